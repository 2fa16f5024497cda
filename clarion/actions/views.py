"""Public action pages: the page and its form, thank-you, confirmation, embed,
live count and share image. Staff views live in ``staff_views``."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from clarion.areas.geocoding import geocode
from clarion.core import hashing, tokens
from clarion.core.content import VIDEO_HOSTS, video_embed_url
from clarion.core.middleware import CSP
from clarion.core.ratelimit import ratelimit_hits
from clarion.core.services import client_ip

from . import plugins, selectors, services
from .forms import ActionForm, DonationForm, money_label
from .models import ActionPage, Submission


def _limits() -> dict:
    return {
        "ip": int(getattr(settings, "CLARION_ACTION_IP_LIMIT", 60)),
        "ip_window": int(getattr(settings, "CLARION_ACTION_IP_WINDOW", 600)),
        "email": int(getattr(settings, "CLARION_ACTION_EMAIL_LIMIT", 5)),
        "email_window": int(getattr(settings, "CLARION_ACTION_EMAIL_WINDOW", 3600)),
    }


def _too_many(
    request: HttpRequest, page: ActionPage | None, *, embed: bool = False
) -> HttpResponse:
    response = render(request, "actions/too_many.html", {"page": page, "embed": embed}, status=429)
    response["Retry-After"] = "600"
    return response


def with_csp(response: HttpResponse, *, video: bool = False, embed: bool = False) -> HttpResponse:
    """``response`` with the action pages' Content Security Policy: ``video`` lets the
    known video hosts be framed, ``embed`` lets any site frame the page."""
    policy = CSP
    if video:
        policy += "; frame-src " + " ".join(VIDEO_HOSTS)
    if embed:
        # A partner's site may frame the embed view; nothing else is frameable.
        policy = policy.replace("frame-ancestors 'none'", "frame-ancestors *")
    response["Content-Security-Policy"] = policy
    return response


def _initial_attribution(request: HttpRequest, *, embed: bool) -> dict:
    get = request.GET
    referrer = request.META.get("HTTP_REFERER", "")
    own = url_has_allowed_host_and_scheme(referrer, allowed_hosts={request.get_host()})
    initial = {
        "source": get.get("source") or get.get("s") or ("embed" if embed else ""),
        "ref": get.get("ref", ""),
        "referrer": "" if own else referrer,
        "mt": get.get("mt", ""),
    }
    for key in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"):
        initial[key] = get.get(key, "")
    return {k: str(v)[:500] for k, v in initial.items()}


def page_context(request: HttpRequest, page: ActionPage, form, *, embed: bool = False) -> dict:
    """The template context of a public action page (count, progress, recent signers,
    video, share links) around ``form``; staff previews render the same context."""
    count = selectors.page_count(page)
    ref_person = None
    if form is not None:
        ref_person = selectors.page_by_share_code(form["ref"].value() or "")
    return {
        "page": page,
        "form": form,
        "count": count,
        "progress": selectors.page_progress(page, count),
        "recent": selectors.recent_signers(page)
        if page.kind in (ActionPage.Kind.PETITION, ActionPage.Kind.PLEDGE)
        else [],
        "video_url": video_embed_url(page.video_url),
        "is_open": page.is_open(),
        "embed": embed,
        "share": _share_links(request, page),
        "og_image": request.build_absolute_uri(
            reverse("actions:share_image", kwargs={"slug": page.slug})
        ),
        "page_url": selectors.page_public_url(page),
        "recruiter_name": ref_person.first_name if ref_person else "",
        "button_label": page.button_label or _default_button(page),
        "money": selectors.page_money(page) if page.kind == ActionPage.Kind.DONATION else None,
    }


def _default_button(page: ActionPage) -> str:
    return {
        ActionPage.Kind.PETITION: _("Sign the petition"),
        ActionPage.Kind.PLEDGE: _("Make the pledge"),
        ActionPage.Kind.SIGNUP: _("Sign up"),
        ActionPage.Kind.LETTER: _("Send my letter"),
        ActionPage.Kind.SURVEY: _("Send my answers"),
        ActionPage.Kind.DONATION: _("Donate"),
    }[page.kind]


def _share_links(request: HttpRequest, page: ActionPage, *, ref: str = "") -> dict:
    url = selectors.page_public_url(page, ref=ref)
    text = page.share_text or page.title
    return {
        "url": url,
        "facebook": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}),
        "x": "https://twitter.com/intent/tweet?" + urlencode({"text": text, "url": url}),
        "whatsapp": "https://wa.me/?" + urlencode({"text": f"{text} {url}"}),
        "email": "mailto:?"
        + urlencode({"subject": page.title, "body": f"{text}\n\n{url}"}).replace("+", "%20"),
    }


def _submission_input(
    request: HttpRequest, form: ActionForm, *, embed: bool
) -> services.SubmissionInput:
    data = form.cleaned_data
    answers, custom = form.answers()
    return services.SubmissionInput(
        email=data["email"],
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        postcode=data.get("postcode", ""),
        comment=data.get("comment", ""),
        answers=answers,
        custom_fields=custom,
        email_consent=bool(data.get("email_consent")),
        show_name=bool(data.get("show_name")),
        letter_subject=data.get("letter_subject", ""),
        letter_body=data.get("letter_body", ""),
        source=data.get("source", "") or ("embed" if embed else ""),
        referrer=data.get("referrer", ""),
        utm={
            k[4:]: data[k]
            for k in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
            if data.get(k)
        },
        mailing_token=services.mailing_token_value(data.get("mt", "")),
        recruiter_code=(data.get("ref") or "").strip()[:16],
        embedded=embed,
        ip_hash=hashing.ip_hash(client_ip(request) or ""),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )


def _act(request: HttpRequest, page: ActionPage, *, embed: bool) -> HttpResponse:
    template = "actions/embed.html" if embed else "actions/page.html"
    form_class = DonationForm if page.kind == ActionPage.Kind.DONATION else ActionForm
    if request.method != "POST":
        form = form_class(page=page, initial=_initial_attribution(request, embed=embed))
        context = page_context(request, page, form, embed=embed)
        if embed:
            context["form_token"] = tokens.stamp(str(page.pk), salt=tokens.ACTIONS_EMBED_FORM)
        response = render(request, template, context)
        return with_csp(response, video=bool(context["video_url"]) and not embed, embed=embed)

    # Every POST counts against its IP; a valid one also against its mailbox. Both
    # counters move after validation (which touches nothing shared), and any
    # over-limit answer is the same 429 as before.
    limits = _limits()
    ip_hit = ("actions:ip", client_ip(request) or "", limits["ip_window"])
    ip_counted = False
    form = form_class(request.POST, page=page)
    if embed and not _embed_token_ok(request, page):
        form.is_valid()
        form.add_error(None, _("This form has expired. Please reload the page and try again."))
    elif not page.is_open():
        form.is_valid()
        form.add_error(None, _("This page is closed and no longer takes part."))
    elif form.is_valid():
        if form.honeypot_filled():
            if ratelimit_hits([ip_hit])[0] > limits["ip"]:
                return with_csp(_too_many(request, page, embed=embed), embed=embed)
            # Look like success to the bot; record nothing.
            return redirect(_thanks_url(page, None, embed=embed))
        from clarion.people.normalise import canonical_email

        email_hit = (
            "actions:email",
            canonical_email(form.cleaned_data["email"]),
            limits["email_window"],
        )
        ip_total, email_total = ratelimit_hits([ip_hit, email_hit])
        ip_counted = True
        if ip_total > limits["ip"] or email_total > limits["email"]:
            return with_csp(_too_many(request, page, embed=embed), embed=embed)
        try:
            if page.kind == ActionPage.Kind.DONATION:
                return _donate(request, page, form, embed=embed)
            # The intake row is committed before we answer (invariant 1); the workers
            # find the person, tag, record the timeline and send the email from it.
            taken = services.submission_intake(
                page=page, data=_submission_input(request, form, embed=embed)
            )
            if services.intake_inline():
                services.submissions_process(ids=[taken.submission.pk], limit=1)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            if taken.duplicate:
                # Nothing about the first signature is shown: the submitter may have
                # typed somebody else's address.
                url = selectors.page_thanks_url(page) + "?again=1"
                return redirect(url + ("&embed=1" if embed else ""))
            # The thank-you page names the row; it shows a share link only once
            # processing has created the person (an existing person's page reaches
            # them by email only).
            url = selectors.submission_thanks_url(taken.submission)
            if embed:
                url += "&embed=1"
            return redirect(url)
    if not ip_counted and ratelimit_hits([ip_hit])[0] > limits["ip"]:
        # A refused or invalid POST counts against its IP too.
        return with_csp(_too_many(request, page, embed=embed), embed=embed)
    context = page_context(request, page, form, embed=embed)
    if embed:
        context["form_token"] = tokens.stamp(str(page.pk), salt=tokens.ACTIONS_EMBED_FORM)
    response = render(request, template, context, status=400 if form.errors else 200)
    return with_csp(response, video=bool(context["video_url"]) and not embed, embed=embed)


def _embed_token_ok(request: HttpRequest, page: ActionPage) -> bool:
    token = request.POST.get("ft", "")
    value = tokens.unstamp(token, salt=tokens.ACTIONS_EMBED_FORM, max_age=86400)
    return value is not None and value == str(page.pk)


def _donate(
    request: HttpRequest, page: ActionPage, form: DonationForm, *, embed: bool
) -> HttpResponse:
    data = _submission_input(request, form, embed=embed)
    plugin = plugins.donations()
    if plugin is None:
        raise Http404("Donations are not installed.")
    person = services.donor_upsert(page=page, data=data)
    started = plugin.start(
        page=page,
        person=person,
        amount_pence=form.cleaned_data["amount_pence"],
        currency=page.currency,
        recurring=bool(form.cleaned_data.get("recurring")),
        attribution={
            "source": data.source,
            "referrer": data.referrer,
            "utm": data.utm,
            "mailing_token": data.mailing_token,
            "recruiter_id": data.recruiter.pk if data.recruiter else None,
        },
    )
    return redirect(started.redirect_url)


def _thanks_url(page: ActionPage, person, *, embed: bool) -> str:
    url = selectors.page_thanks_url(page, person)
    if embed:
        url += ("&" if "?" in url else "?") + "embed=1"
    return url


@require_http_methods(["GET", "HEAD", "POST"])
def page_view(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.public_page(slug)
    return _act(request, page, embed=False)


@csrf_exempt  # third-party iframes do not get our CSRF cookie; a signed form token stands in
@xframe_options_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def embed_view(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.public_page(slug)
    return _act(request, page, embed=True)


@xframe_options_exempt
@require_GET
def thanks_view(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.public_page(slug)
    person = services.thanks_person(request.GET.get("p", ""))
    embed = request.GET.get("embed") == "1"
    submission = None
    if person is not None:
        submission = Submission.objects.filter(page=page, person=person).first()
    elif request.GET.get("s"):
        # Straight after the form: the row may still be in intake (no person yet).
        submission = services.thanks_submission(request.GET["s"], page)
        if submission is not None and submission.person_created:
            person = submission.person
    count = selectors.page_count(page)
    if person is not None:
        ref = person.share_code or ""
    else:
        # Still in intake: the code the person will get if the row creates them.
        ref = services.intake_share_code(submission) if submission is not None else ""
    context = {
        "page": page,
        "person": person,
        "submission": submission,
        "again": request.GET.get("again") == "1",
        "count": count,
        "progress": selectors.page_progress(page, count),
        "share": _share_links(request, page, ref=ref),
        "recruits": selectors.recruits_count(person) if person else None,
        "next_url": _next_link(
            page, request.GET.get("p", "") or (services.thanks_token(person) if person else "")
        ),
        "next_event": _nearest_event(person, submission)
        if page.next_step == ActionPage.NextStep.EVENT and not embed
        else None,
        "embed": embed,
        "money": selectors.page_money(page) if page.kind == ActionPage.Kind.DONATION else None,
        "gift": _gift(page, request.GET.get("g", "")),
    }
    response = render(request, "actions/thanks.html", context)
    return with_csp(response, embed=embed)


NEXT_EVENT_MILES = 25


def _gift(page: ActionPage, token: str) -> dict | None:
    """What the donor just gave (amount, how often, where the receipt goes), from the
    signed ``?g=`` the gateway returned them with; None on other pages or a bad token."""
    plugin = plugins.donations()
    if page.kind != ActionPage.Kind.DONATION or not token or plugin is None or not plugin.gift:
        return None
    return plugin.gift(token, page)


def _nearest_event(person, submission=None):
    """The nearest upcoming event to ``person``'s postcode (the "RSVP to the nearest
    event" next step), or None when there is none or no postcode to go on. Without a
    person to show (a signature still in intake, or a mailbox that existed before), the
    postcode typed on this very submission is used: it shows the signer an event near
    what they just typed, and nothing stored about anyone."""
    plugin = plugins.events()
    if plugin is None:
        return None
    if person is None:
        typed = (submission.submitted or {}).get("postcode", "") if submission else ""
        location = geocode(typed) if typed else None
        if location is None:
            return None
        return plugin.nearest(
            latitude=location.latitude, longitude=location.longitude, miles=NEXT_EVENT_MILES
        )
    latitude, longitude = person.latitude, person.longitude
    if (latitude is None or longitude is None) and person.postcode:
        location = geocode(person.postcode)
        if location is not None:
            latitude, longitude = location.latitude, location.longitude
    if latitude is None or longitude is None:
        return None
    return plugin.nearest(latitude=latitude, longitude=longitude, miles=NEXT_EVENT_MILES)


def _next_link(page: ActionPage, token: str) -> str:
    url = reverse("actions:next", kwargs={"slug": page.slug})
    return url + ("?" + urlencode({"p": token}) if token else "")


@require_GET
def next_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Follow the page's next-step ask, noting that this person took it."""
    page = selectors.public_page(slug)
    person = services.thanks_person(request.GET.get("p", ""))
    submission = None
    if person is not None:
        submission = Submission.objects.filter(page=page, person=person).first()
        if submission is not None:
            services.submission_next_step(submission=submission)
    step = page.next_step
    if (
        step in (ActionPage.NextStep.PAGE, ActionPage.NextStep.DONATE)
        and page.next_page
        and (page.next_page.status != ActionPage.Status.DRAFT)
    ):
        query = {"source": f"next:{page.slug}"}
        if submission is not None and submission.mailing_token:
            query["mt"] = services.mailing_token_sign(submission.mailing_token)
        return redirect(
            reverse("actions:page", kwargs={"slug": page.next_page.slug}) + "?" + urlencode(query)
        )
    if step == ActionPage.NextStep.MEMBER and page.next_url:
        return redirect(page.next_url)
    if step == ActionPage.NextStep.EVENT:
        query = {"source": f"next:{page.slug}"}
        nearest = _nearest_event(person)
        if nearest is not None:
            if person.share_code:
                query["ref"] = person.share_code
            return redirect(
                reverse("events:detail", kwargs={"pk": nearest.event.pk}) + "?" + urlencode(query)
            )
        if person is not None and person.postcode:
            return redirect(reverse("events:find") + "?" + urlencode({"postcode": person.postcode}))
        return redirect("events:find")
    return redirect(selectors.page_thanks_url(page) + "#share")


@require_http_methods(["GET", "HEAD", "POST"])
def confirm_view(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """Double opt-in: the emailed link shows a button (so link scanners that fetch
    the address do not confirm on someone's behalf); pressing it counts the action."""
    page = selectors.public_page(slug)
    pk = tokens.unsign(token, salt=tokens.ACTIONS_CONFIRM, max_age=30 * 86400)
    if pk is None:
        return render(request, "actions/confirm.html", {"page": page, "bad": True}, status=400)
    submission = (
        Submission.objects.select_related("person", "page").filter(pk=pk, page=page).first()
    )
    if submission is None:
        raise Http404
    if request.method == "POST":
        services.submission_confirm(submission=submission)
        selectors.page_count_forget(page)
        return redirect(selectors.page_thanks_url(page, submission.person))
    return render(
        request,
        "actions/confirm.html",
        {
            "page": page,
            "submission": submission,
            "done": submission.status == Submission.Status.CONFIRMED,
        },
    )


@never_cache
@require_GET
def count_view(request: HttpRequest, slug: str) -> JsonResponse:
    """The live count for the page's script (refreshes at the count cache interval)."""
    page = selectors.public_page(slug)
    count = selectors.page_count(page)
    progress = selectors.page_progress(page, count)
    return JsonResponse({"count": count, "goal": progress["goal"], "percent": progress["percent"]})


@require_GET
def share_image_view(request: HttpRequest, slug: str) -> HttpResponse:
    """A 1200×630 PNG for Open Graph / Twitter cards: title and current count."""
    from .share_image import share_image_png

    page = selectors.public_page(slug)
    count = selectors.page_count(page)
    if page.kind == ActionPage.Kind.DONATION:
        money = selectors.page_money(page)
        line = _("%(amount)s raised") % {
            "amount": money_label(money["amount_pence"], page.currency)
        }
    else:
        line = _("%(count)s people have taken part") % {"count": f"{count:,}"}
    png = share_image_png(title=page.title, line=line, organisation=settings.ORGANISATION_NAME)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    return response
