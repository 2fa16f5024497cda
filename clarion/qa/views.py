"""Public Q&A pages: the audience page (ask, watch, vote), the live feed, the
presenter view, email confirmation for voters, and the published page.

Every list of questions here comes from ``selectors.public_questions`` (approved only).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clarion.core.ratelimit import ratelimit_hit
from clarion.core.services import client_ip

from . import live, selectors, services, voting
from .forms import AskForm, ConfirmForm
from .models import Session
from .tasks import qa_confirm_send


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _session_or_404(slug: str) -> Session:
    session = selectors.public_session(slug)
    if session is None:
        raise Http404
    return session


def _page(
    request: HttpRequest, session: Session, *, form=None, confirm_form=None, status: int = 200
):
    order = "new" if request.GET.get("sort") == "new" else "top"
    questions = selectors.sort_questions(selectors.public_questions(session), order)
    supporter = voting.supporter_id(request)
    voted = set()
    if supporter:
        voted = set(
            session.questions.filter(votes__person_id=supporter).values_list("pk", flat=True)
        )
    context = {
        "session": session,
        "questions": questions,
        "order": order,
        "form": form if form is not None else AskForm(session=session),
        "confirm_form": confirm_form or ConfirmForm(),
        "accepting": session.accepting_questions(),
        "supporter": supporter,
        "can_vote": bool(supporter) and session.status == Session.Status.OPEN,
        "voted": voted,
        "answering": next((q for q in questions if q.pk == session.answering_now_id), None),
        "published": session.status == Session.Status.PUBLISHED,
    }
    return render(request, "qa/session.html", context, status=status)


@require_GET
def session_page(request: HttpRequest, slug: str) -> HttpResponse:
    return _page(request, _session_or_404(slug))


@require_POST
def ask(request: HttpRequest, slug: str) -> HttpResponse:
    session = _session_or_404(slug)
    form = AskForm(request.POST, session=session)
    if not form.is_valid():
        return _page(request, session, form=form, status=400)
    try:
        services.question_ask(
            session=session,
            name=form.cleaned_data["name"],
            email=form.cleaned_data["email"],
            text=form.cleaned_data["text"],
            ip=client_ip(request),
            consent=form.cleaned_data["consent"],
            confirmed_person_id=voting.supporter_id(request),
        )
    except services.Throttled:
        form.add_error(
            None, _("Too many questions from your connection. Wait a minute and try again.")
        )
        return _page(request, session, form=form, status=429)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return _page(request, session, form=form, status=400)
    return redirect("qa:thanks", slug=session.slug)


@require_GET
def thanks(request: HttpRequest, slug: str) -> HttpResponse:
    session = _session_or_404(slug)
    return render(request, "qa/thanks.html", {"session": session})


@require_GET
def live_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The live feed: cached bytes, 304 when the client's ETag is current."""
    response = live_response(request, slug)
    if response is None:
        return JsonResponse({"error": _("No such session.")}, status=404)
    return response


def live_response(request: HttpRequest, slug: str) -> HttpResponse | None:
    """The live feed's response, or None when there is no such public session.

    Reads nothing from the request but two headers, so ``LiveFeedMiddleware`` may
    call it ahead of the session, auth and CSRF middleware."""
    feed = live.live_snapshot(
        slug=slug,
        build=selectors.live_feed,
        if_none_match=request.headers.get("If-None-Match"),
        gzip_ok=_accepts_gzip(request.headers.get("Accept-Encoding", "")),
    )
    if feed is None:
        return None
    if feed.body is None:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(feed.body, content_type="application/json")
        response["Content-Length"] = str(len(feed.body))
        if feed.gzipped:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = feed.etag
    response["Cache-Control"] = "no-cache"
    response["Vary"] = "Accept-Encoding"
    return response


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding == "gzip":
            for param in params:
                name, _sep, value = param.partition("=")
                if name.strip() == "q":
                    try:
                        return float(value) > 0  # "gzip;q=0" is a refusal
                    except ValueError:
                        return False
            return True
    return False


@require_GET
def present(request: HttpRequest, slug: str) -> HttpResponse:
    session = _session_or_404(slug)
    questions = selectors.sort_questions(selectors.public_questions(session), "top")
    answering = next((q for q in questions if q.pk == session.answering_now_id), None)
    return render(
        request,
        "qa/present.html",
        {
            "session": session,
            "questions": [q for q in questions if not q.answered][:8],
            "answering": answering,
        },
    )


@require_POST
def vote(request: HttpRequest, slug: str, question_id: int) -> HttpResponse:
    session = _session_or_404(slug)
    question = get_object_or_404(selectors.public_questions(session), pk=question_id)
    question.session = session
    supporter = voting.supporter_id(request)
    back = reverse("qa:session", args=[slug]) + f"#q{question.pk}"
    if supporter is None:
        if _wants_json(request):
            return JsonResponse({"error": _("Confirm your email address to vote.")}, status=403)
        messages.error(request, _("Confirm your email address to vote."))
        return redirect(back)
    try:
        counted = services.vote_add(question=question, person_id=supporter, ip=client_ip(request))
    except services.Throttled:
        if _wants_json(request):
            return JsonResponse({"error": _("Too many votes. Wait a minute.")}, status=429)
        messages.error(request, _("Too many votes. Wait a minute."))
        return redirect(back)
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"error": exc.messages[0]}, status=400)
        messages.error(request, exc.messages[0])
        return redirect(back)
    if _wants_json(request):
        return JsonResponse({"counted": counted})
    if not counted:
        messages.info(request, _("You have voted for this question already."))
    return redirect(back)


@require_POST
def confirm_request(request: HttpRequest, slug: str) -> HttpResponse:
    session = _session_or_404(slug)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _page(request, session, confirm_form=form, status=400)
    ip = client_ip(request) or ""
    if ratelimit_hit(scope="qa-confirm-ip", ident=ip, window=600) > 10:
        form.add_error(None, _("Too many requests from your connection. Try again later."))
        return _page(request, session, confirm_form=form, status=429)
    try:
        person = services.supporter_for_confirmation(email=form.cleaned_data["email"])
    except ValidationError as exc:
        form.add_error("email", exc.message_dict.get("email", exc.messages)[0])
        return _page(request, session, confirm_form=form, status=400)
    if ratelimit_hit(scope="qa-confirm-person", ident=str(person.pk), window=3600) <= 3:
        person_id, session_id = person.pk, session.pk
        transaction.on_commit(lambda: qa_confirm_send.enqueue(person_id, session_id))
    messages.success(
        request, _("Check your inbox: we sent you a link to confirm your email address.")
    )
    return redirect("qa:session", slug=slug)


@require_GET
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    found = voting.confirm_token_read(token)
    if found is None:
        return render(request, "qa/confirm_bad.html", status=400)
    person_id, slug = found
    from clarion.people.models import Person

    if not Person.objects.filter(pk=person_id).exists():
        return render(request, "qa/confirm_bad.html", status=400)
    response = redirect("qa:session", slug=slug)
    voting.supporter_set(response, person_id=person_id, secure=settings.SESSION_COOKIE_SECURE)
    messages.success(request, _("Thank you: your email address is confirmed, and you can vote."))
    return response
