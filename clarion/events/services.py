"""Writes for events: saving events, RSVPs (capacity and waiting list under a row
lock), cancelling and promoting, check-in, walk-ins, member proposals and their
approval, canvass results, and queueing reminders. People are written only through
``clarion.people.services``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.actions.content import render_markdown
from clarion.areas.selectors import postcode_lookup
from clarion.people.models import Activity, EmailStatus, Person
from clarion.people.normalise import InvalidEmail, normalise_email
from clarion.people.services import ConsentInput, activity_record, person_upsert

from . import selectors
from .models import CanvassResult, Event, EventEmail, Rsvp

MAX_GUESTS = 10


def event_save(*, event: Event, actor=None) -> Event:
    """Validate and save ``event``: renders the description and places the postcode.

    Raises ValidationError (field → message) for an unknown postcode or an end before
    the start.
    """
    errors: dict[str, str] = {}
    if event.starts_at and event.ends_at and event.ends_at < event.starts_at:
        errors["ends_at"] = _("The event must end after it starts.")
    if event.postcode:
        row = postcode_lookup(event.postcode)
        if row is None:
            errors["postcode"] = _("We don't know that postcode.")
        else:
            event.postcode = row.postcode
            event.latitude, event.longitude = row.latitude, row.longitude
            if event.area_id is None and row.area_id is not None:
                event.area_id = row.area_id
    else:
        event.latitude = event.longitude = None
    if event.kind != Event.Kind.ONLINE and not event.postcode and not event.online_url:
        errors["postcode"] = _("Give the venue's postcode so people nearby can find it.")
    if errors:
        raise ValidationError(errors)
    event.description_html = render_markdown(event.description)
    event.save()
    return event


@dataclass
class RsvpInput:
    email: str
    first_name: str = ""
    last_name: str = ""
    postcode: str = ""
    phone: str = ""
    guests: int = 0
    email_consent: bool = False
    consent_wording: str = ""
    source: str = ""
    referrer: str = ""
    recruiter: Person | None = None
    answers: dict = field(default_factory=dict)


@dataclass
class RsvpResult:
    rsvp: Rsvp
    duplicate: bool = False


def _queue(task_name: str, **kwargs) -> None:
    from . import tasks

    transaction.on_commit(lambda: getattr(tasks, task_name).enqueue(**kwargs), robust=True)


def _lock_event(event: Event) -> Event:
    """Lock the event row: every change to who holds a place happens under this lock,
    so two requests can never both take the last place."""
    return Event.objects.select_for_update().get(pk=event.pk)


@transaction.atomic
def rsvp_create(*, event: Event, data: RsvpInput) -> RsvpResult:
    """RSVP a person to ``event``: a place if one is free (guests included), else the
    waiting list. Everything is committed when this returns (invariant 1); the
    confirmation email is queued on commit.

    A second RSVP from the same person while the first stands is a duplicate: nothing
    changes and the first is returned. A cancelled RSVP is brought back.
    Raises ValidationError for bad details or an event that takes no RSVPs.
    """
    try:
        email = normalise_email(data.email)
    except InvalidEmail:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if not email:
        raise ValidationError({"email": _("Enter your email address.")})
    if not 0 <= data.guests <= MAX_GUESTS:
        raise ValidationError(
            {"guests": _("Bring between 0 and %(n)s guests.") % {"n": MAX_GUESTS}}
        )
    if event.status != Event.Status.PUBLISHED or event.ends_at < timezone.now():
        raise ValidationError({"__all__": _("This event is not taking RSVPs.")})
    consent = None
    if data.email_consent:
        consent = ConsentInput(
            channel="email", wording=data.consent_wording, source=f"event:{event.pk}"
        )
    person = person_upsert(
        email=email,
        phone=data.phone or None,
        first_name=data.first_name,
        last_name=data.last_name,
        postcode=data.postcode or None,
        email_status=EmailStatus.SUBSCRIBED if data.email_consent else None,
        email_status_reason=_("Opted in when RSVPing to event %(id)s") % {"id": event.pk}
        if data.email_consent
        else "",
        consent=consent,
        recruiter=data.recruiter,
        source_code=data.source or f"event:{event.pk}",
    ).person
    recruiter = (
        data.recruiter if data.recruiter is not None and data.recruiter.pk != person.pk else None
    )

    event = _lock_event(event)
    existing = Rsvp.objects.filter(event=event, person=person).first()
    if existing is not None and existing.status != Rsvp.Status.CANCELLED:
        return RsvpResult(rsvp=existing, duplicate=True)
    places = 1 + data.guests
    left = selectors.places_left(event)
    waitlisted_ahead = Rsvp.objects.filter(event=event, status=Rsvp.Status.WAITLISTED).exists()
    going = left is None or (places <= left and not waitlisted_ahead)
    rsvp = existing or Rsvp(event=event, person=person)
    rsvp.status = Rsvp.Status.GOING if going else Rsvp.Status.WAITLISTED
    rsvp.guests = data.guests
    rsvp.source = data.source[:100]
    rsvp.referrer = data.referrer[:500]
    rsvp.recruiter = recruiter
    rsvp.created_at = timezone.now()
    rsvp.cancelled_at = None
    rsvp.attendance = Rsvp.Attendance.UNKNOWN
    rsvp.save()
    activity_record(
        person=person,
        kind=Activity.Kind.EVENT,
        summary=(
            _("RSVP'd to “%(title)s”") if going else _("Joined the waiting list for “%(title)s”")
        )
        % {"title": event.title},
        data={"event": event.pk, "rsvp": rsvp.pk, "status": rsvp.status, "guests": rsvp.guests},
    )
    EventEmail.objects.filter(
        event=event, person=person, kind__in=["confirm", "waitlist", "promoted"]
    ).delete()
    _queue("rsvp_confirmation_email", rsvp_id=rsvp.pk)
    return RsvpResult(rsvp=rsvp)


def _promote_waiting(event: Event) -> list[Rsvp]:
    """Give freed places to the waiting list, first come first served. The caller
    holds the event lock. Stops at the first person whose party does not fit, so
    nobody is overtaken."""
    promoted = []
    left = selectors.places_left(event)
    for rsvp in (
        Rsvp.objects.filter(event=event, status=Rsvp.Status.WAITLISTED)
        .select_related("person")
        .order_by("created_at", "pk")
    ):
        if left is not None and rsvp.places > left:
            break
        rsvp.status = Rsvp.Status.GOING
        rsvp.promoted_at = timezone.now()
        rsvp.save(update_fields=["status", "promoted_at"])
        activity_record(
            person=rsvp.person,
            kind=Activity.Kind.EVENT,
            summary=_("Got a place at “%(title)s” from the waiting list") % {"title": event.title},
            data={"event": event.pk, "rsvp": rsvp.pk, "status": rsvp.status},
        )
        _queue("rsvp_promoted_email", rsvp_id=rsvp.pk)
        promoted.append(rsvp)
        if left is not None:
            left -= rsvp.places
    return promoted


@transaction.atomic
def rsvp_cancel(*, rsvp: Rsvp, actor=None) -> list[Rsvp]:
    """Cancel ``rsvp`` and promote whoever the freed places now fit; returns those
    promoted (each is emailed on commit). Cancelling twice changes nothing."""
    event = _lock_event(rsvp.event)
    rsvp = Rsvp.objects.select_related("person").get(pk=rsvp.pk)
    if rsvp.status == Rsvp.Status.CANCELLED:
        return []
    rsvp.status = Rsvp.Status.CANCELLED
    rsvp.cancelled_at = timezone.now()
    rsvp.save(update_fields=["status", "cancelled_at"])
    activity_record(
        person=rsvp.person,
        kind=Activity.Kind.EVENT,
        actor=actor,
        summary=_("Cancelled their RSVP to “%(title)s”") % {"title": event.title},
        data={"event": event.pk, "rsvp": rsvp.pk, "status": rsvp.status},
    )
    return _promote_waiting(event)


@transaction.atomic
def event_capacity_raise(*, event: Event) -> list[Rsvp]:
    """After capacity was raised: promote whoever now fits."""
    return _promote_waiting(_lock_event(event))


@transaction.atomic
def checkin_mark(*, rsvp: Rsvp, attendance: str, actor=None) -> Rsvp:
    """Mark attended / no-show (or back to unknown). Writes the timeline once per change."""
    if attendance not in Rsvp.Attendance.values:
        raise ValidationError(_("Unknown attendance."))
    rsvp = Rsvp.objects.select_for_update().select_related("person", "event").get(pk=rsvp.pk)
    if rsvp.attendance == attendance:
        return rsvp
    rsvp.attendance = attendance
    rsvp.checked_in_at = timezone.now() if attendance == Rsvp.Attendance.ATTENDED else None
    rsvp.save(update_fields=["attendance", "checked_in_at"])
    if attendance != Rsvp.Attendance.UNKNOWN:
        summary = (
            _("Attended “%(title)s”")
            if attendance == Rsvp.Attendance.ATTENDED
            else _("Did not come to “%(title)s”")
        )
        activity_record(
            person=rsvp.person,
            kind=Activity.Kind.EVENT,
            actor=actor,
            summary=summary % {"title": rsvp.event.title},
            data={"event": rsvp.event_id, "rsvp": rsvp.pk, "attendance": attendance},
        )
    return rsvp


@transaction.atomic
def walkin_add(
    *,
    event: Event,
    email: str = "",
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    postcode: str = "",
    actor=None,
) -> Rsvp:
    """Someone who turned up without an RSVP: record them (person_upsert) as attended.
    A walk-in is at the door already, so capacity does not apply."""
    person = person_upsert(
        email=email or None,
        phone=phone or None,
        first_name=first_name,
        last_name=last_name,
        postcode=postcode or None,
        source_code=f"event:{event.pk}",
        actor=actor,
    ).person
    event = _lock_event(event)
    rsvp, _created = Rsvp.objects.get_or_create(
        event=event, person=person, defaults={"walk_in": True}
    )
    rsvp.status = Rsvp.Status.GOING
    rsvp.save(update_fields=["status"])
    return checkin_mark(rsvp=rsvp, attendance=Rsvp.Attendance.ATTENDED, actor=actor)


@transaction.atomic
def canvass_record(
    *,
    event: Event,
    person: Person,
    outcome: str,
    support_level: int | None = None,
    note: str = "",
    actor=None,
) -> CanvassResult:
    """One doorstep or phone contact: stored for the event's totals and written onto
    the person's timeline."""
    if outcome not in CanvassResult.Outcome.values:
        raise ValidationError({"outcome": _("Choose an outcome.")})
    if support_level is not None and not 1 <= support_level <= 5:
        raise ValidationError({"support_level": _("Support is from 1 to 5.")})
    result = CanvassResult.objects.create(
        event=event,
        person=person,
        outcome=outcome,
        support_level=support_level,
        note=note[:500],
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    label = CanvassResult.Outcome(outcome).label
    summary = _("Canvassed at “%(title)s”: %(outcome)s") % {"title": event.title, "outcome": label}
    if support_level is not None:
        summary += " · " + _("support %(n)s/5") % {"n": support_level}
    activity_record(
        person=person,
        kind=Activity.Kind.EVENT,
        actor=actor,
        summary=summary,
        data={
            "event": event.pk,
            "canvass": result.pk,
            "outcome": outcome,
            "support_level": support_level,
        },
    )
    return result


# --- Member proposals and approval ------------------------------------------------


@transaction.atomic
def event_propose(
    *, event: Event, email: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> Event:
    """A member proposes ``event`` (unsaved) and becomes its host. Published straight
    away when the area's policy allows, else it waits in the organisers' queue. The
    host link is emailed on commit once it is published."""
    person = person_upsert(
        email=email,
        phone=phone or None,
        first_name=first_name,
        last_name=last_name,
        source_code="event:proposal",
    ).person
    event.host_person = person
    event.proposed_by = person
    event.status = Event.Status.PROPOSED
    event.visibility = Event.Visibility.PUBLIC
    event_save(event=event)
    if not selectors.policy_requires_approval(event.area):
        event.status = Event.Status.PUBLISHED
        event.save(update_fields=["status"])
        _queue("host_link_email", event_id=event.pk)
    activity_record(
        person=person,
        kind=Activity.Kind.EVENT,
        summary=_("Proposed an event: “%(title)s”") % {"title": event.title},
        data={"event": event.pk},
    )
    return event


@transaction.atomic
def event_approve(*, event: Event, actor) -> Event:
    updated = Event.objects.filter(pk=event.pk, status=Event.Status.PROPOSED).update(
        status=Event.Status.PUBLISHED
    )
    event.refresh_from_db()
    if updated:
        _queue("host_link_email", event_id=event.pk)
    return event


@transaction.atomic
def event_decline(*, event: Event, message: str, actor) -> Event:
    updated = Event.objects.filter(pk=event.pk, status=Event.Status.PROPOSED).update(
        status=Event.Status.DECLINED, decline_message=message[:2000]
    )
    event.refresh_from_db()
    if updated:
        _queue("proposal_declined_email", event_id=event.pk)
    return event


# --- Reminders and follow-ups -------------------------------------------------------


def due_reminder_hours(event: Event, now: datetime.datetime) -> int | None:
    """The reminder due now: the smallest configured lead time already reached before
    the start. Only that one is sent, so someone who RSVPs an hour before does not get
    the day-before reminder too."""
    if now >= event.starts_at:
        return None
    due = [
        h
        for h in event.reminder_hour_list()
        if now >= event.starts_at - datetime.timedelta(hours=h)
    ]
    return min(due) if due else None


def reminders_queue(*, now: datetime.datetime | None = None) -> int:
    """Queue the reminder and follow-up tasks that are due; returns how many. Safe to
    run as often as wanted (each email is claimed by a unique sent-marker row)."""
    from . import tasks

    now = now or timezone.now()
    queued = 0
    horizon = now + datetime.timedelta(days=15)
    for event in Event.objects.filter(
        status=Event.Status.PUBLISHED, starts_at__gt=now, starts_at__lte=horizon
    ):
        hours = due_reminder_hours(event, now)
        if hours is None:
            continue
        kind = f"reminder_{hours}"
        pending = Rsvp.objects.filter(event=event, status=Rsvp.Status.GOING).exclude(
            person__in=EventEmail.objects.filter(event=event, kind=kind).values("person")
        )
        if pending.exists():
            tasks.event_reminders_send.enqueue(event_id=event.pk, hours=hours)
            queued += 1
    since = now - datetime.timedelta(days=3)
    for event in Event.objects.filter(
        status=Event.Status.PUBLISHED, ends_at__lte=now, ends_at__gt=since
    ).exclude(follow_up=""):
        pending = Rsvp.objects.filter(event=event, attendance=Rsvp.Attendance.ATTENDED).exclude(
            person__in=EventEmail.objects.filter(event=event, kind="followup").values("person")
        )
        if pending.exists():
            tasks.event_followups_send.enqueue(event_id=event.pk)
            queued += 1
    return queued


def email_claim(*, event_id: int, person_id: int, kind: str) -> EventEmail | None:
    """Claim the right to send one email: the marker row is committed before sending,
    so a second worker finds it and skips. Returns None when already claimed."""
    try:
        with transaction.atomic():
            return EventEmail.objects.create(event_id=event_id, person_id=person_id, kind=kind)
    except IntegrityError:
        return None


def email_release(marker: EventEmail) -> None:
    """Sending failed: give the claim back so a retry sends it."""
    EventEmail.objects.filter(pk=marker.pk).delete()
