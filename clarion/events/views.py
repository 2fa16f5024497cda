"""Public event pages: find an event near me, the event page and its RSVP form, the
signed manage link, .ics files, member proposals and the signed host tools."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clarion.areas.geocoding import Location, geocode
from clarion.areas.models import Area
from clarion.core.ratelimit import ratelimit_hit
from clarion.core.site import site_url

from . import checkin, ics, selectors, services
from .forms import (
    CONSENT_WORDING,
    FindForm,
    HostCanvassForm,
    HostMessageForm,
    ProposeForm,
    QuestionFormSet,
    RsvpChangeForm,
    RsvpForm,
    WalkInForm,
)
from .models import Event, Rsvp


def _ip(request: HttpRequest) -> str:
    if getattr(settings, "USE_X_FORWARDED_HOST", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "") or ""


def _too_many(request: HttpRequest) -> bool:
    limit = int(getattr(settings, "CLARION_EVENTS_IP_LIMIT", 60))
    return ratelimit_hit(scope="events:ip", ident=_ip(request), window=600) > limit


def _too_many_response(request: HttpRequest) -> HttpResponse:
    response = render(request, "events/too_many.html", status=429)
    response["Retry-After"] = "600"
    return response


@require_http_methods(["GET", "HEAD"])
def find(request: HttpRequest) -> HttpResponse:
    """Find an event near me: a GET form, so results are linkable and need no JS."""
    data = request.GET.copy() if request.GET else None
    if data is not None and not data.get("radius"):
        # A link with only a postcode searches (and shows) the default distance.
        data["radius"] = "10"
    form = FindForm(data, initial={"radius": 10})
    results = None
    online = []
    place = None
    if form.is_bound and form.is_valid():
        if form.cleaned_data["postcode"]:
            place = geocode(form.cleaned_data["postcode"])
        else:  # "use my location": the browser's position, no postcode
            place = Location(
                postcode="", latitude=form.cleaned_data["lat"], longitude=form.cleaned_data["lng"]
            )
        if place is None:
            form.add_error("postcode", _("We don't know that postcode."))
        else:
            start, end = form.window()
            results = selectors.events_near(
                latitude=place.latitude,
                longitude=place.longitude,
                miles=form.cleaned_data["radius"] or 10,
                kind=form.cleaned_data.get("kind", ""),
                start=start,
                end=end,
            )
            online = list(
                selectors.upcoming_online(
                    kind=form.cleaned_data.get("kind", ""), start=start, end=end
                )
            )
    # Before a search (or after a failed one) the page still shows what is coming up.
    upcoming = list(selectors.upcoming_public()) if results is None else []
    return render(
        request,
        "events/find.html",
        {
            "form": form,
            "results": results,
            "online": online,
            "place": place,
            "upcoming": upcoming,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _share_links(event: Event, *, ref: str = "") -> dict:
    url = site_url(reverse("events:detail", kwargs={"pk": event.pk}))
    if ref:
        url += "?" + urlencode({"ref": ref})
    return {
        "url": url,
        "facebook": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}),
        "x": "https://twitter.com/intent/tweet?" + urlencode({"text": event.title, "url": url}),
        "whatsapp": "https://wa.me/?" + urlencode({"text": f"{event.title} {url}"}),
        "email": "mailto:?" + urlencode({"subject": event.title, "body": url}).replace("+", "%20"),
    }


def _initial(request: HttpRequest) -> dict:
    referrer = request.META.get("HTTP_REFERER", "")
    own = url_has_allowed_host_and_scheme(referrer, allowed_hosts={request.get_host()})
    return {
        "source": (request.GET.get("source") or request.GET.get("s") or "")[:100],
        "ref": request.GET.get("ref", "")[:16],
        "referrer": "" if own else referrer[:500],
        "guests": 0,
    }


def _detail_context(event: Event, form) -> dict:
    ref_person = (
        selectors.person_by_share_code(form["ref"].value() or "") if form is not None else None
    )
    return {
        "event": event,
        "form": form,
        "places_left": selectors.places_left(event),
        "location": ics.event_location(event),
        "share": _share_links(event),
        "page_url": site_url(reverse("events:detail", kwargs={"pk": event.pk})),
        "recruiter_name": ref_person.first_name if ref_person else "",
        "open": event.status == Event.Status.PUBLISHED,
    }


@require_http_methods(["GET", "HEAD", "POST"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.public_event(pk)
    if request.method != "POST":
        return render(
            request,
            "events/detail.html",
            _detail_context(event, RsvpForm(initial=_initial(request), event=event)),
        )
    if _too_many(request):
        return _too_many_response(request)
    form = RsvpForm(request.POST, event=event)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = services.rsvp_create(
                event=event,
                data=services.RsvpInput(
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data.get("last_name", ""),
                    postcode=data.get("postcode", ""),
                    guests=data.get("guests") or 0,
                    email_consent=bool(data.get("email_consent")),
                    consent_wording=str(CONSENT_WORDING),
                    source=data.get("source", ""),
                    referrer=data.get("referrer", ""),
                    recruiter=selectors.person_by_share_code(data.get("ref", "")),
                    answers=form.answers(),
                    shift_ids=form.shift_ids(),
                ),
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            if result.duplicate:
                form.add_error(
                    None,
                    _(
                        "You have already RSVP'd to this event. Use the link in your email to change "
                        "or cancel it."
                    ),
                )
                return render(
                    request, "events/detail.html", _detail_context(event, form), status=409
                )
            return redirect("events:manage", pk=event.pk, token=selectors.manage_token(result.rsvp))
    return render(request, "events/detail.html", _detail_context(event, form), status=400)


@require_http_methods(["GET", "HEAD", "POST"])
def manage(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The RSVP's own page through its signed link: status, the online link for people
    going, share link with their recruiter credit, changing guests, shifts and
    answers, and cancelling."""
    event = selectors.public_event(pk)
    rsvp = selectors.rsvp_from_token(event, token)
    if rsvp is None:
        return render(request, "events/bad_link.html", {"event": event}, status=404)
    change_form = None
    confirm_cancel = False
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "cancel" and request.POST.get("confirm") == "yes":
            services.rsvp_cancel(rsvp=rsvp)
            return redirect("events:manage", pk=event.pk, token=token)
        if action == "cancel" and rsvp.status != Rsvp.Status.CANCELLED:
            # The first press only asks: cancelling gives the place away at once.
            confirm_cancel = True
        elif action == "change" and rsvp.status != Rsvp.Status.CANCELLED:
            change_form = RsvpChangeForm(request.POST, rsvp=rsvp)
            if change_form.is_valid():
                try:
                    services.rsvp_change(
                        rsvp=rsvp,
                        guests=change_form.cleaned_data["guests"],
                        shift_ids=change_form.shift_ids(),
                        answers=change_form.answers(),
                    )
                except ValidationError as exc:
                    _add_errors(change_form, exc)
                else:
                    url = reverse("events:manage", kwargs={"pk": event.pk, "token": token})
                    return redirect(url + "?changed=1")
        else:
            return redirect("events:manage", pk=event.pk, token=token)
    if change_form is None and rsvp.status != Rsvp.Status.CANCELLED:
        change_form = RsvpChangeForm(rsvp=rsvp)
    return render(
        request,
        "events/manage.html",
        {
            "event": event,
            "rsvp": rsvp,
            "token": token,
            "shifts": [s.shift for s in rsvp.shift_signups.select_related("shift")],
            "answers": rsvp.answers.select_related("question"),
            "change_form": None if confirm_cancel else change_form,
            "confirm_cancel": confirm_cancel,
            "changed": request.GET.get("changed") == "1" and change_form is not None,
            "location": ics.event_location(event),
            "share": _share_links(event, ref=rsvp.person.share_code or ""),
            "online_url": event.online_url if rsvp.status == Rsvp.Status.GOING else "",
        },
        status=400 if change_form is not None and change_form.errors else 200,
    )


def _add_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_http_methods(["GET", "HEAD"])
def manage_ics(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The shifts this RSVP signed up for, as calendar entries (the event itself when
    it has no shifts)."""
    event = selectors.public_event(pk)
    rsvp = selectors.rsvp_from_token(event, token)
    if rsvp is None or rsvp.status == Rsvp.Status.CANCELLED:
        raise Http404
    shifts = [s.shift for s in rsvp.shift_signups.select_related("shift")]
    online = event.online_url if rsvp.status == Rsvp.Status.GOING else ""
    return _ics_response(
        ics.rsvp_calendar(event, shifts, online_url=online), f"event-{event.pk}-shifts.ics"
    )


def _ics_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "HEAD"])
def event_ics(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.public_event(pk)
    return _ics_response(ics.calendar([event]), f"event-{event.pk}.ics")


@require_http_methods(["GET", "HEAD"])
def area_feed(request: HttpRequest, area_id: int) -> HttpResponse:
    """A subscribable calendar of an area's public events (its whole subtree)."""
    area = get_object_or_404(Area, pk=area_id)
    name = _("%(org)s events: %(area)s") % {"org": settings.ORGANISATION_NAME, "area": area.name}
    return _ics_response(
        ics.calendar(selectors.area_feed_events(area), name=name), f"events-{area.pk}.ics"
    )


@require_http_methods(["GET", "HEAD", "POST"])
def propose(request: HttpRequest) -> HttpResponse:
    """A member proposes an event they will host."""
    if request.method == "POST" and _too_many(request):
        return _too_many_response(request)
    form = ProposeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = services.event_propose(
                event=form.save(commit=False),
                email=data["host_email"],
                first_name=data["host_first_name"],
                last_name=data.get("host_last_name", ""),
                postcode=data.get("host_postcode", ""),
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return render(request, "events/proposed.html", {"event": event})
    return render(
        request, "events/propose.html", {"form": form}, status=400 if form.errors else 200
    )


def _host_event(pk: int, token: str) -> Event:
    try:
        event = Event.objects.select_related("area").get(pk=int(pk))
    except (Event.DoesNotExist, ValueError):
        raise Http404 from None
    if not selectors.host_token_ok(event, token):
        raise Http404
    return event


def _host_context(event: Event, token: str, q: str = "", **extra) -> dict:
    rsvps = selectors.with_choices(
        checkin.rsvps_matching(
            Rsvp.objects.filter(event=event)
            .exclude(status=Rsvp.Status.CANCELLED)
            .select_related("person"),
            q,
        )
    )
    return {
        "event": event,
        "rsvps": rsvps,
        "token": token,
        "q": q,
        "find_action": reverse("events:host_find", kwargs={"pk": event.pk, "token": token}),
        "counts": selectors.rsvp_counts(event),
        "shifts": selectors.shifts_with_places(event),
        "walkin_form": WalkInForm(),
        **extra,
    }


@require_http_methods(["GET", "HEAD"])
def host(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """Host tools for a member host: attendee list (with shifts and answers), phone
    check-in, and links to message attendees, the sign-in sheet and the questions."""
    event = _host_event(pk, token)
    q = request.GET.get("q", "")[: checkin.MAX_TEXT]
    return render(request, "events/host.html", _host_context(event, token, q))


@require_POST
def host_find(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The host's search box, posted: as the staff check-in's (a membership card's code
    checks its holder in, or offers them as a walk-in; other text narrows the list)."""
    event = _host_event(pk, token)
    text = request.POST.get("q", "").strip()[: checkin.MAX_TEXT]
    page = reverse("events:host", kwargs={"pk": event.pk, "token": token})
    found = checkin.checkin_find(event=event, text=text)
    if found is None:
        return redirect(f"{page}?{urlencode({'q': text})}" if text else page)
    name = f"{found.person.first_name} {found.person.last_name}".strip() or _("This person")
    rsvp = found.rsvp
    if rsvp is None and request.POST.get("walk_in") == "1":
        rsvp = checkin.walkin_person_add(event=event, person=found.person)
    elif rsvp is not None:
        services.checkin_mark(rsvp=rsvp, attendance=Rsvp.Attendance.ATTENDED)
    else:
        return render(
            request,
            "events/host.html",
            _host_context(event, token, offer={"name": name, "code": text}),
        )
    return redirect(f"{page}#rsvp-{rsvp.pk}")


@require_POST
def host_checkin(request: HttpRequest, pk: int, token: str, rsvp_id: int) -> HttpResponse:
    event = _host_event(pk, token)
    rsvp = get_object_or_404(Rsvp, pk=rsvp_id, event=event)
    attendance = request.POST.get("attendance", "")
    if attendance not in Rsvp.Attendance.values:
        return HttpResponse(_("Unknown attendance."), status=400)
    services.checkin_mark(rsvp=rsvp, attendance=attendance)
    return redirect(
        reverse("events:host", kwargs={"pk": event.pk, "token": token}) + f"#rsvp-{rsvp.pk}"
    )


@require_http_methods(["GET", "HEAD", "POST"])
def host_canvass(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The member host records canvass or phone-bank results on a phone, one contact
    at a time, through the signed host link. The page shows the event's totals and
    never what is stored about a contact."""
    event = _host_event(pk, token)
    if event.kind not in (Event.Kind.CANVASS, Event.Kind.PHONE_BANK):
        raise Http404
    form = HostCanvassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.canvass_contact_record(event=event, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            url = reverse("events:host_canvass", kwargs={"pk": event.pk, "token": token})
            return redirect(url + "?saved=1")
    return render(
        request,
        "events/host_canvass.html",
        {
            "event": event,
            "form": form,
            "totals": selectors.canvass_totals(event),
            "saved": request.GET.get("saved") == "1" and not form.is_bound,
            "back_url": reverse("events:host", kwargs={"pk": event.pk, "token": token}),
        },
        status=400 if form.is_bound else 200,
    )


@require_POST
def host_walkin(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    event = _host_event(pk, token)
    form = WalkInForm(request.POST)
    if form.is_valid():
        try:
            services.walkin_add(event=event, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect("events:host", pk=event.pk, token=token)
    return render(
        request,
        "events/host.html",
        _host_context(event, token, walkin_form=form.without_rejected_contact()),
        status=400,
    )


def message_page(request: HttpRequest, event: Event, *, user=None, **context) -> HttpResponse:
    """The message-attendees form, shared by the host link and the staff page:
    validates, calls ``services.host_message_send`` and shows earlier messages."""
    form = HostMessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.host_message_send(event=event, user=user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect(request.path + "?sent=1")
    return render(
        request,
        "events/message.html",
        {
            "event": event,
            "form": form,
            "sent": event.host_messages.all()[:20],
            "counts": selectors.rsvp_counts(event),
            "just_sent": request.GET.get("sent") == "1",
            "limit": services.host_message_limit(),
            **context,
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def host_message(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The member host messages everyone going (and, if they choose, waiting)."""
    if request.method == "POST" and _too_many(request):
        return _too_many_response(request)
    event = _host_event(pk, token)
    return message_page(
        request,
        event,
        back_url=reverse("events:host", kwargs={"pk": event.pk, "token": token}),
    )


def sheet_page(request: HttpRequest, event: Event, rsvps, *, back_url: str) -> HttpResponse:
    """A printable sign-in sheet: people going, then blank rows for walk-ins."""
    return render(
        request,
        "events/sheet.html",
        {
            "event": event,
            "rsvps": selectors.with_choices(rsvps.filter(status=Rsvp.Status.GOING)),
            "blank_rows": range(SHEET_BLANK_ROWS),
            "location": ics.event_location(event),
            "back_url": back_url,
        },
    )


SHEET_BLANK_ROWS = 15


@require_http_methods(["GET", "HEAD"])
def host_sheet(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    event = _host_event(pk, token)
    return sheet_page(
        request,
        event,
        Rsvp.objects.filter(event=event)
        .select_related("person")
        .order_by("person__last_name", "person__first_name", "pk"),
        back_url=reverse("events:host", kwargs={"pk": event.pk, "token": token}),
    )


@require_http_methods(["GET", "HEAD", "POST"])
def host_questions(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """The member host sets the questions their RSVP form asks."""
    event = _host_event(pk, token)
    formset = QuestionFormSet(request.POST or None, instance=event, prefix="questions")
    if request.method == "POST" and formset.is_valid():
        formset.save()
        url = reverse("events:host_questions", kwargs={"pk": event.pk, "token": token})
        return redirect(url + "?saved=1")
    return render(
        request,
        "events/host_questions.html",
        {
            "event": event,
            "formset": formset,
            "saved": request.GET.get("saved") == "1",
            "back_url": reverse("events:host", kwargs={"pk": event.pk, "token": token}),
        },
        status=400 if formset.is_bound and not formset.is_valid() else 200,
    )
