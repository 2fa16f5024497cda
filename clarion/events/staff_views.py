"""Staff pages for events. Events are reached only through ``selectors.access_event``
(the user's area subtree) and attendees only through ``selectors.rsvps_visible``
(``people_for``), so an organiser never sees a person outside their area."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clarion.people.selectors import access_person, people_for

from . import checkin, selectors, services, views
from .exports import rsvps_export_stream, rsvps_segment_create
from .forms import (
    CanvassForm,
    DeclineForm,
    EventForm,
    QuestionFormSet,
    ShiftFormSet,
    WalkInForm,
)
from .models import Event, Rsvp


def _form_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "upcoming")
    qs = selectors.events_for(request.user)
    now = timezone.now()
    qs = (
        qs.filter(ends_at__lt=now).order_by("-starts_at")
        if show == "past"
        else qs.filter(ends_at__gte=now)
    )
    return render(
        request,
        "events/staff/list.html",
        {
            "events": qs[:200],
            "show": show,
            "queue_count": selectors.approval_queue(request.user).count(),
        },
    )


def _valid_or_unbound(formset) -> bool:
    return not formset.is_bound or formset.is_valid()


def _event_form_page(request: HttpRequest, event: Event | None) -> HttpResponse:
    """Create (``event`` None) or edit an event with its shifts and questions: one
    validation and render path for both. ``services.event_save`` does the checks and
    any waiting-list promotion a raised capacity allows; the shifts and questions are
    saved in the same transaction."""
    data = request.POST if request.method == "POST" else None
    initial = (
        {"area": request.user.scope_area, "status": Event.Status.PUBLISHED}
        if event is None
        else None
    )
    form = EventForm(data, instance=event, user=request.user, initial=initial)
    parent = event if event is not None else Event()
    # A post without a formset's management form leaves that part unchanged.
    shifts = ShiftFormSet(
        data if data and "shifts-TOTAL_FORMS" in data else None, instance=parent, prefix="shifts"
    )
    questions = QuestionFormSet(
        data if data and "questions-TOTAL_FORMS" in data else None,
        instance=parent,
        prefix="questions",
    )
    if data is not None and all(
        [form.is_valid(), _valid_or_unbound(shifts), _valid_or_unbound(questions)]
    ):
        changed = form.save(commit=False)
        if event is None:
            changed.host_user = request.user
        try:
            services.event_parts_save(event=changed, parts=(shifts, questions), actor=request.user)
        except ValidationError as exc:
            if event is None:
                changed.pk = None
            _form_errors(form, exc)
        else:
            messages.success(request, _("Event saved.") if event else _("Event created."))
            return redirect("events_staff:detail", pk=changed.pk)
    failed = data is not None and bool(
        form.errors or not shifts.is_valid() or not questions.is_valid()
    )
    return render(
        request,
        "events/staff/form.html",
        {"form": form, "event": event, "shifts": shifts, "questions": questions},
        status=400 if failed else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def event_create(request: HttpRequest) -> HttpResponse:
    if not request.user.can_write:
        raise PermissionDenied
    return _event_form_page(request, None)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def event_edit(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.access_event(request.user, pk, write=request.method == "POST")
    return _event_form_page(request, event)


@login_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The event with its attendees (those in the user's scope) and canvass totals."""
    event = selectors.access_event(request.user, pk)
    return render(
        request,
        "events/staff/detail.html",
        {
            "event": event,
            "rsvps": selectors.with_choices(selectors.rsvps_visible(request.user, event)),
            "hidden": selectors.rsvps_hidden_count(request.user, event),
            "shifts": selectors.shifts_with_places(event),
            "questions": event.questions.all(),
            "counts": selectors.rsvp_counts(event),
            "canvass": selectors.canvass_totals(event),
            "host_url": (
                reverse(
                    "events:host", kwargs={"pk": event.pk, "token": selectors.host_token(event)}
                )
                if event.host_person_id and request.user.can_write
                else ""
            ),
        },
    )


def _checkin_page(request: HttpRequest, event: Event, *, status: int = 200, **extra):
    """The check-in page, its list narrowed by ``?q=`` (a name or an email address)."""
    q = request.GET.get("q", "")[: checkin.MAX_TEXT]
    rsvps = selectors.rsvps_visible(request.user, event).exclude(status=Rsvp.Status.CANCELLED)
    return render(
        request,
        "events/staff/checkin.html",
        {
            "event": event,
            "rsvps": checkin.rsvps_matching(rsvps, q),
            "q": q,
            "counts": selectors.rsvp_counts(event),
            "walkin_form": WalkInForm(),
            "find_action": reverse("events_staff:checkin_find", kwargs={"pk": event.pk}),
            **extra,
        },
        status=status,
    )


@login_required
def event_checkin(request: HttpRequest, pk: int) -> HttpResponse:
    """Check-in on a phone: a search box that also takes a membership card's code, one
    big button pair per attendee, and a walk-in form."""
    return _checkin_page(request, selectors.access_event(request.user, pk))


@login_required
@require_POST
def checkin_find(request: HttpRequest, pk: int) -> HttpResponse:
    """The search box, posted: a code that names someone the user reaches
    (``checkin.checkin_lookups``, e.g. a membership card) checks them in if they have an
    RSVP, or offers to add them as a walk-in (``walk_in=1`` does it); any other text
    narrows the list by name."""
    event = selectors.access_event(request.user, pk, write=True)
    text = request.POST.get("q", "").strip()[: checkin.MAX_TEXT]
    page = reverse("events_staff:checkin", kwargs={"pk": event.pk})
    found = checkin.checkin_find(event=event, text=text, people=people_for(request.user))
    if found is None:
        return redirect(f"{page}?{urlencode({'q': text})}" if text else page)
    name = f"{found.person.first_name} {found.person.last_name}".strip() or _("This person")
    rsvp = found.rsvp
    if rsvp is None and request.POST.get("walk_in") == "1":
        rsvp = checkin.walkin_person_add(event=event, person=found.person, actor=request.user)
        messages.success(request, _("%(name)s added as a walk-in and checked in.") % {"name": name})
    elif rsvp is not None:
        services.checkin_mark(rsvp=rsvp, attendance=Rsvp.Attendance.ATTENDED, actor=request.user)
        messages.success(request, _("%(name)s is checked in.") % {"name": name})
    else:
        return _checkin_page(request, event, offer={"name": name, "code": text})
    return redirect(f"{page}#rsvp-{rsvp.pk}")


@login_required
@require_POST
def rsvp_attendance(request: HttpRequest, pk: int, rsvp_id: int) -> HttpResponse:
    event = selectors.access_event(request.user, pk, write=True)
    rsvp = selectors.rsvps_visible(request.user, event).filter(pk=rsvp_id).first()
    if rsvp is None:
        raise Http404
    attendance = request.POST.get("attendance", "")
    if attendance not in Rsvp.Attendance.values:
        messages.error(request, _("Choose attended or no-show."))
    else:
        services.checkin_mark(rsvp=rsvp, attendance=attendance, actor=request.user)
    return redirect(reverse("events_staff:checkin", kwargs={"pk": event.pk}) + f"#rsvp-{rsvp.pk}")


@login_required
@require_POST
def walkin(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.access_event(request.user, pk, write=True)
    form = WalkInForm(request.POST)
    if form.is_valid():
        try:
            services.walkin_add(event=event, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Walk-in added and checked in."))
            return redirect("events_staff:checkin", pk=event.pk)
    return _checkin_page(request, event, status=400, walkin_form=form.without_rejected_contact())


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def canvass(request: HttpRequest, pk: int) -> HttpResponse:
    """Record canvass or phone-bank results, one contact at a time, on a phone. The
    contact is found through the user's scope (``access_person``)."""
    event = selectors.access_event(request.user, pk, write=request.method == "POST")
    form = CanvassForm(request.POST or None, initial={"person": request.GET.get("person", "")})
    contact = None
    person_id = request.POST.get("person") or request.GET.get("person")
    if person_id:
        try:
            contact = access_person(request.user, person_id)
        except Http404:
            contact = None
            if request.method == "POST":
                raise
    if request.method == "POST" and form.is_valid() and contact is not None:
        data = form.cleaned_data
        try:
            services.canvass_record(
                event=event,
                person=contact,
                outcome=data["outcome"],
                support_level=data.get("support_level"),
                note=data.get("note", ""),
                actor=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Result recorded."))
            return redirect("events_staff:canvass", pk=event.pk)
    return render(
        request,
        "events/staff/canvass.html",
        {
            "event": event,
            "form": form,
            "contact": contact,
            "totals": selectors.canvass_totals(event),
        },
        status=400 if form.is_bound and (form.errors or contact is None) else 200,
    )


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "events/staff/approvals.html",
        {
            "events": selectors.approval_queue(request.user).select_related("proposed_by"),
            "decline_form": DeclineForm(),
        },
    )


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.access_event(request.user, pk, write=True)
    if event.status != Event.Status.PROPOSED:
        messages.error(request, _("That event is not waiting for approval."))
    else:
        services.event_approve(event=event, actor=request.user)
        messages.success(request, _("Approved: the event is live and its host has their link."))
    return redirect("events_staff:approvals")


@login_required
@require_POST
def decline(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.access_event(request.user, pk, write=True)
    form = DeclineForm(request.POST)
    if event.status != Event.Status.PROPOSED:
        messages.error(request, _("That event is not waiting for approval."))
    elif not form.is_valid():
        messages.error(request, _("Write a short message to the member saying why."))
    else:
        services.event_decline(
            event=event, message=form.cleaned_data["message"], actor=request.user
        )
        messages.success(request, _("Declined; the member has been told."))
    return redirect("events_staff:approvals")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def message(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff message an event's attendees: only those in the user's scope get it."""
    event = selectors.access_event(request.user, pk, write=True)
    return views.message_page(
        request,
        event,
        user=request.user,
        back_url=reverse("events_staff:detail", kwargs={"pk": event.pk}),
        staff=True,
        base_template="base.html",
    )


@login_required
def sheet(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.access_event(request.user, pk)
    return views.sheet_page(
        request,
        event,
        selectors.rsvps_visible(request.user, event).order_by(
            "person__last_name", "person__first_name", "pk"
        ),
        back_url=reverse("events_staff:detail", kwargs={"pk": event.pk}),
    )


@login_required
def event_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The event's RSVPs in the user's scope as CSV (audited, streamed)."""
    event = selectors.access_event(request.user, pk)
    lines = rsvps_export_stream(user=request.user, event=event, request=request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}-rsvps-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def event_segment(request: HttpRequest, pk: int) -> HttpResponse:
    """Save a segment of the people who RSVP'd to or attended the event and open it."""
    event = selectors.access_event(request.user, pk, write=True)
    segment = rsvps_segment_create(user=request.user, event=event)
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    return redirect("people:segment_detail", pk=segment.pk)
