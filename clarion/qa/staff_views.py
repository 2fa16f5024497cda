"""Staff pages for Q&A: sessions, the moderation console, the host's page, reports,
the banned-words list. Sessions are reached only through ``selectors.access_session``
(scope) and every write checks ``selectors.can_moderate`` (analysts read only)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clarion.areas.selectors import areas_visible_to

from . import live, selectors, services
from .forms import (
    AnswerForm,
    BanForm,
    BannedPhraseForm,
    EditForm,
    MergeForm,
    RejectForm,
    SessionForm,
)
from .models import BannedPhrase, ModerationDecision, Question, Session
from .screening import reason_labels


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _done(
    request: HttpRequest, session: Session, message: str, *, ok: bool = True, status: int = 200
):
    if _wants_json(request):
        return JsonResponse({"ok": ok, "message": message}, status=status)
    (messages.success if ok else messages.error)(request, message)
    return redirect("qa_staff:console", session_id=session.pk)


@login_required
@require_GET
def session_list(request: HttpRequest) -> HttpResponse:
    sessions = selectors.sessions_for(request.user).select_related("area")
    return render(request, "qa/staff/session_list.html", {"sessions": sessions})


@login_required
def session_edit(request: HttpRequest, session_id: int | None = None) -> HttpResponse:
    if not request.user.can_write:
        raise PermissionDenied
    session = selectors.access_session(request.user, session_id, write=True) if session_id else None
    form = SessionForm(request.POST or None, instance=session, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = services.session_save(
            session=form.save(commit=False),
            actor=request.user,
            moderators=form.cleaned_data["moderators"],
        )
        messages.success(request, _("Session saved."))
        return redirect("qa_staff:console", session_id=saved.pk)
    return render(request, "qa/staff/session_form.html", {"form": form, "session": session})


@login_required
@require_POST
def session_status(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.access_session(request.user, session_id, write=True)
    status = request.POST.get("status", "")
    try:
        services.session_set_status(session=session, status=status, moderator=request.user)
    except ValidationError as exc:
        return _done(request, session, exc.messages[0], ok=False, status=400)
    return _done(
        request, session, _("Session is now %(status)s.") % {"status": session.get_status_display()}
    )


@login_required
@require_GET
def console(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.access_session(request.user, session_id)
    queue = selectors.moderation_queue(session)
    return render(
        request,
        "qa/staff/console.html",
        {
            "session": session,
            "queue": queue,
            "can_moderate": selectors.can_moderate(request.user, session),
            "reject_form": RejectForm(),
        },
    )


def _card(question: Question, count: int, user) -> dict:
    claimed = (
        question.claimed_by_id is not None
        and question.claimed_until is not None
        and question.claimed_until > timezone.now()
    )
    return {
        "id": question.pk,
        "group": question.group_id,
        "count": count,
        "name": question.display_name,
        "text": question.text,
        "original": question.original_text,
        "reasons": reason_labels(question.reasons),
        "starred": question.starred,
        "new_person": question.person_was_new,
        "claimed_by": str(question.claimed_by) if claimed else "",
        "mine": claimed and question.claimed_by_id == user.pk,
    }


@login_required
@require_GET
def queue_json(request: HttpRequest, session_id: int) -> HttpResponse:
    """The console's live feed. Built per moderator request (a handful of people), with
    an ETag from the queue version so unchanged polls cost one cache read."""
    session = selectors.access_session(request.user, session_id)
    etag = f'"q{session.pk}-{live.queue_version(session.pk)}-{request.user.pk}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    queue = selectors.moderation_queue(session)
    data = {
        "pending": queue["pending"],
        "clean": [_card(c["question"], c["count"], request.user) for c in queue["clean"]],
        "flagged": [_card(c["question"], c["count"], request.user) for c in queue["flagged"]],
        "waves": [
            {
                "group": w["group"].pk,
                "count": w["count"],
                "text": w["sample"].text,
                "askers": w["askers"],
                "domains": w["domains"],
                "networks": w["networks"],
                "samples": [s.text for s in w["samples"]],
                "reasons": reason_labels(w["reasons"].keys()),
            }
            for w in queue["waves"]
        ],
    }
    response = JsonResponse(data)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


@login_required
def question_open(request: HttpRequest, session_id: int, question_id: int) -> HttpResponse:
    """Opening a question claims it for this moderator (claim on open)."""
    session = selectors.access_session(request.user, session_id)
    question = selectors.access_question(request.user, session, question_id)
    moderate = selectors.can_moderate(request.user, session)
    claimed = False
    if moderate and question.status == Question.Status.PENDING:
        claimed = services.question_claim(question=question, moderator=request.user)
        question.refresh_from_db()
    decisions = ModerationDecision.objects.filter(question=question).select_related("moderator")
    return render(
        request,
        "qa/staff/question.html",
        {
            "session": session,
            "question": question,
            "can_moderate": moderate,
            "claimed": claimed,
            "reasons": reason_labels(question.reasons),
            "decisions": decisions,
            "edit_form": EditForm(initial={"text": question.text}),
            "merge_form": MergeForm(),
            "ban_form": BanForm(),
            "reject_form": RejectForm(),
            "answer_form": AnswerForm(initial={"answer_text": question.answer_text}),
        },
    )


# Each moderation action on one question: (request, session, question) -> response.
# A handler answers a form error itself; ModerationConflict and ValidationError are
# turned into answers by ``question_action``.


def _claim(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    if not services.question_claim(question=question, moderator=request.user):
        question.refresh_from_db(fields=["status"])
        if question.status != Question.Status.PENDING:
            raise services.ModerationConflict(_("This question has already been decided."))
        raise services.ModerationConflict(_("Another moderator is handling this question."))
    return _done(request, session, _("You are handling this question."))


def _release(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    services.question_release(question=question, moderator=request.user)
    return _done(request, session, _("Released."))


def _approve(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    services.question_approve(question=question, moderator=request.user)
    return _done(request, session, _("Approved: the audience can see it now."))


def _star(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    services.question_star(question=question, moderator=request.user)
    message = _("Starred for the host.") if question.starred else _("Star removed.")
    return _done(request, session, message)


def _reject(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _done(request, session, _("Give a reason to reject."), ok=False, status=400)
    services.question_reject(
        question=question, moderator=request.user, reason=form.cleaned_data["reason"]
    )
    return _done(request, session, _("Rejected."))


def _edit(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    form = EditForm(request.POST)
    if not form.is_valid():
        return _done(request, session, _("The question cannot be empty."), ok=False, status=400)
    services.question_edit(
        question=question, moderator=request.user, text=form.cleaned_data["text"]
    )
    return _done(request, session, _("Question edited; the original is kept."))


def _merge(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    form = MergeForm(request.POST)
    if not form.is_valid():
        message = _("Give the number of the question to merge into.")
        return _done(request, session, message, ok=False, status=400)
    into = Question.objects.filter(session=session, pk=form.cleaned_data["into"]).first()
    if into is None:
        message = _("No question with that number in this session.")
        return _done(request, session, message, ok=False, status=400)
    services.question_merge(question=question, into=into, moderator=request.user)
    return _done(request, session, _("Merged into question %(n)s.") % {"n": into.pk})


def _ban(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    form = BanForm(request.POST)
    if not form.is_valid():
        return _done(request, session, _("Give a reason to ban."), ok=False, status=400)
    services.person_ban(
        question=question,
        moderator=request.user,
        reason=form.cleaned_data["reason"],
        request=request,
    )
    return _done(request, session, _("The asker is banned and their waiting questions rejected."))


def _answering(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    target = None if request.POST.get("clear") else question
    services.session_answering_set(session=session, question=target, moderator=request.user)
    messages.success(request, _("The audience sees which question is being answered."))
    return redirect("qa_staff:host", session_id=session.pk)


def _answer(request: HttpRequest, session: Session, question: Question) -> HttpResponse:
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("qa_staff:host", session_id=session.pk)
    services.question_answer(
        question=question,
        moderator=request.user,
        text=form.cleaned_data["answer_text"],
        seconds=form.cleaned_data["answer_at"],
    )
    messages.success(request, _("Answer published."))
    return redirect("qa_staff:host", session_id=session.pk)


HANDLERS = {
    "claim": _claim,
    "release": _release,
    "approve": _approve,
    "reject": _reject,
    "star": _star,
    "edit": _edit,
    "merge": _merge,
    "ban": _ban,
    "answering": _answering,
    "answer": _answer,
}
ACTIONS = set(HANDLERS)
# The host's screen actions answer with a message on the host page, not JSON.
HOST_ACTIONS = {"answering", "answer"}


@login_required
@require_POST
def question_action(
    request: HttpRequest, session_id: int, question_id: int, action: str
) -> HttpResponse:
    session = selectors.access_session(request.user, session_id, write=True)
    question = selectors.access_question(request.user, session, question_id, write=True)
    handler = HANDLERS.get(action)
    if handler is None:
        return _done(request, session, _("Unknown action."), ok=False, status=404)
    try:
        return handler(request, session, question)
    except services.ModerationConflict as exc:
        return _done(request, session, str(exc), ok=False, status=409)
    except ValidationError as exc:
        if action in HOST_ACTIONS:
            messages.error(request, exc.messages[0])
            return redirect("qa_staff:host", session_id=session.pk)
        return _done(request, session, exc.messages[0], ok=False, status=400)


GROUP_ACTIONS = {"approve", "reject", "ban"}


@login_required
@require_POST
def group_action(request: HttpRequest, session_id: int, group_id: int, action: str) -> HttpResponse:
    session = selectors.access_session(request.user, session_id, write=True)
    group = selectors.access_group(request.user, session, group_id, write=True)
    if action not in GROUP_ACTIONS:
        return _done(request, session, _("Unknown action."), ok=False, status=404)
    reason = request.POST.get("reason", "").strip()[:200] or _("Coordinated wave")
    try:
        if action == "approve":
            services.group_approve(group=group, moderator=request.user)
            return _done(request, session, _("Published the wave as one question."))
        if action == "reject":
            n = services.group_reject(group=group, moderator=request.user, reason=reason)
            return _done(request, session, _("Rejected %(n)s questions.") % {"n": n})
        n = services.group_ban(group=group, moderator=request.user, reason=reason, request=request)
        return _done(
            request, session, _("Banned the senders and rejected %(n)s questions.") % {"n": n}
        )
    except services.ModerationConflict as exc:
        return _done(request, session, str(exc), ok=False, status=409)


@login_required
@require_GET
def host(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.access_session(request.user, session_id)
    return render(
        request,
        "qa/staff/host.html",
        {
            "session": session,
            "questions": selectors.approved_for_host(session),
            "can_moderate": selectors.can_moderate(request.user, session),
            "answer_form": AnswerForm(),
        },
    )


@login_required
@require_GET
def report(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.access_session(request.user, session_id)
    decisions = ModerationDecision.objects.filter(session=session).select_related(
        "moderator", "question"
    )[:200]
    return render(
        request,
        "qa/staff/report.html",
        {
            "session": session,
            "report": selectors.session_report(session),
            "decisions": decisions,
        },
    )


@login_required
def banned_words(request: HttpRequest) -> HttpResponse:
    """One banned-phrase list at a time: the national one (``?area=`` empty; admins
    edit it) or an area's (organisers edit those of their own subtree). An area
    outside the user's reach is a 404; a list they may read but not edit is a 403 on
    any change."""
    user = request.user
    visible = areas_visible_to(user)
    raw = request.POST.get("area") if request.method == "POST" else request.GET.get("area")
    if raw is None and user.scope_area is not None:
        raw = str(user.scope_area.pk)
    area = None
    if raw:
        area = get_object_or_404(visible, pk=raw if str(raw).isdigit() else 0)
    can_edit = services.can_edit_phrases(user, area)
    form = BannedPhraseForm(request.POST or None)
    here = reverse("qa_staff:banned_words") + (f"?area={area.pk}" if area else "?area=")
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        remove = request.POST.get("remove")
        if remove:
            phrase = get_object_or_404(
                BannedPhrase, pk=remove if remove.isdigit() else 0, area=area
            )
            services.banned_phrase_remove(phrase=phrase, actor=user)
            messages.success(request, _("Removed from the list."))
            return redirect(here)
        if form.is_valid():
            try:
                services.banned_phrase_add(
                    phrase=form.cleaned_data["phrase"], actor=user, area=area
                )
            except ValidationError as exc:
                form.add_error("phrase", exc.message_dict["phrase"][0])
            else:
                messages.success(request, _("Added to the list."))
                return redirect(here)
    return render(
        request,
        "qa/staff/banned_words.html",
        {
            "form": form,
            "area": area,
            "areas": visible,
            "can_edit": can_edit,
            "phrases": BannedPhrase.objects.filter(area=area),
        },
    )
