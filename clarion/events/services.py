"""Writes for events: saving events (promoting the waiting list when the capacity
rises), RSVPs with their shifts and answers (event and shift capacity under one row
lock), changing, cancelling and promoting, check-in, walk-ins, member proposals and
their approval, canvass results, host messages to attendees, and queueing reminders.
People are written only through ``clarion.people.services``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import BaseInlineFormSet
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.models import Area
from clarion.areas.selectors import postcode_lookup
from clarion.core.content import render_markdown
from clarion.people.models import Activity, EmailStatus, Person
from clarion.people.normalise import InvalidEmail, normalise_email
from clarion.people.services import ConsentInput, activity_record, person_upsert

from . import selectors
from .models import (
    Answer,
    CanvassResult,
    Event,
    EventEmail,
    HostMessage,
    Question,
    Rsvp,
    Shift,
    ShiftSignup,
)

MAX_GUESTS = 10
MAX_ANSWER = 2000
HOST_MESSAGES_PER_DAY = 3


@transaction.atomic
def event_save(*, event: Event, actor=None) -> Event:
    """Validate and save ``event``: renders the description and places the postcode.

    Editing an existing event locks its row and compares with the stored capacity:
    when the capacity is raised (or removed), whoever on the waiting list now fits is
    promoted and emailed on commit, whichever caller saved it (staff page, API).

    Raises ValidationError (field → message) for an unknown postcode or an end before
    the start; nothing is written then.
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
    stored = None
    if event.pk is not None:
        # The same row lock RSVPs take, so nobody takes a place between the comparison
        # and the promotion.
        stored = Event.objects.select_for_update().filter(pk=event.pk).values("capacity").first()
    event.description_html = render_markdown(event.description)
    event.save()
    old = stored["capacity"] if stored else None
    if old is not None and (event.capacity is None or event.capacity > old):
        _promote_waiting(event)
    return event


@transaction.atomic
def event_parts_save(*, event: Event, parts: Iterable[BaseInlineFormSet], actor=None) -> Event:
    """Save ``event`` as ``event_save`` does, then each bound inline formset in
    ``parts`` (the staff form's shifts and questions) against it, all in one
    transaction: a ValidationError from ``event_save`` leaves nothing written."""
    event_save(event=event, actor=actor)
    for formset in parts:
        if formset.is_bound:
            formset.instance = event
            formset.save()
    return event


@transaction.atomic
def event_api_save(*, event: Event, actor, default_area: Area | None) -> Event:
    """Save ``event`` for an API client as ``event_save`` does; an event its postcode
    did not place is put in ``default_area`` (the key's area, else its owner's
    scope), so an area's key never makes an event it cannot reach again."""
    event_save(event=event, actor=actor)
    if event.area_id is None and default_area is not None:
        event.area = default_area
        event.save(update_fields=["area"])
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
    answers: dict = field(default_factory=dict)  # question id → answer text
    shift_ids: list[int] = field(default_factory=list)


@dataclass
class RsvpResult:
    rsvp: Rsvp
    duplicate: bool = False


def _queue(task_name: str, **kwargs) -> None:
    from . import tasks

    transaction.on_commit(lambda: getattr(tasks, task_name).enqueue(**kwargs), robust=True)


def event_lock(event: Event) -> Event:
    """Lock the event row: every change to who holds a place happens under this lock,
    so two requests can never both take the last place."""
    return Event.objects.select_for_update().get(pk=event.pk)


def _clean_answers(event: Event, answers: dict) -> dict[Question, str]:
    """Answers to ``event``'s questions keyed by question; raises ValidationError
    (``question_<id>`` → message) for a missing required answer or an unknown choice."""
    errors: dict[str, str] = {}
    cleaned: dict[Question, str] = {}
    for question in event.questions.all():
        raw = answers.get(question.pk, answers.get(str(question.pk), ""))
        value = " ".join(str(raw or "").split()) if question.choices else str(raw or "").strip()
        key = f"question_{question.pk}"
        if not value:
            if question.required:
                errors[key] = _("Please answer this question.")
            continue
        if len(value) > MAX_ANSWER:
            errors[key] = _("Keep your answer under %(n)s characters.") % {"n": MAX_ANSWER}
        elif question.choices and value not in question.choice_list():
            errors[key] = _("Choose one of the options.")
        else:
            cleaned[question] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_shifts(
    event: Event, shift_ids: list[int], *, places: int, rsvp: Rsvp | None = None
) -> list[Shift]:
    """The shifts picked, checked against each shift's capacity counting ``places``
    for this RSVP (its own current signups aside). The caller holds the event lock:
    every signup to an event's shifts is written under it, so the count cannot go
    stale before the rows are written."""
    try:
        wanted = {int(pk) for pk in shift_ids}
    except (TypeError, ValueError):
        raise ValidationError({"shifts": _("Choose from the shifts listed.")}) from None
    shifts = list(Shift.objects.filter(event=event, pk__in=wanted))
    if len(shifts) != len(wanted):
        raise ValidationError({"shifts": _("Choose from the shifts listed.")})
    if not shifts and Shift.objects.filter(event=event).exists():
        raise ValidationError({"shifts": _("Pick at least one shift.")})
    taken = selectors.shift_places_taken([s.pk for s in shifts], exclude_rsvp=rsvp)
    full = [
        s for s in shifts if s.capacity is not None and taken.get(s.pk, 0) + places > s.capacity
    ]
    if full:
        raise ValidationError(
            {
                "shifts": _("Not enough places left on: %(shifts)s. Pick another shift.")
                % {"shifts": ", ".join(selectors.shift_name(s) for s in full)}
            }
        )
    return shifts


def _set_shifts(rsvp: Rsvp, shifts: list[Shift]) -> None:
    keep = {s.pk for s in shifts}
    ShiftSignup.objects.filter(rsvp=rsvp).exclude(shift_id__in=keep).delete()
    have = set(ShiftSignup.objects.filter(rsvp=rsvp).values_list("shift_id", flat=True))
    ShiftSignup.objects.bulk_create(
        [ShiftSignup(rsvp=rsvp, shift=s) for s in shifts if s.pk not in have]
    )


def _set_answers(rsvp: Rsvp, answers: dict[Question, str]) -> None:
    Answer.objects.filter(rsvp=rsvp).exclude(question__in=list(answers)).delete()
    for question, value in answers.items():
        Answer.objects.update_or_create(rsvp=rsvp, question=question, defaults={"value": value})


def _choices_summary(shifts: list[Shift], answers: dict[Question, str]) -> str:
    """Shifts and answers as a line for the person's timeline."""
    parts = []
    if shifts:
        parts.append(
            _("Shifts: %(shifts)s")
            % {"shifts": ", ".join(selectors.shift_name(s) for s in sorted(shifts, key=_when))}
        )
    for question, value in answers.items():
        parts.append(f"{question.text} {value}")
    return "".join(f" · {p}" for p in parts)


def _when(shift: Shift):
    return (shift.starts_at, shift.pk)


def _choices_data(shifts: list[Shift], answers: dict[Question, str]) -> dict:
    return {
        "shifts": sorted(s.pk for s in shifts),
        "answers": {str(q.pk): v for q, v in answers.items()},
    }


@transaction.atomic
def rsvp_create(*, event: Event, data: RsvpInput) -> RsvpResult:
    """RSVP a person to ``event``: a place if one is free (guests included), else the
    waiting list. Everything is committed when this returns (invariant 1); the
    confirmation email is queued on commit.

    The shifts picked (``data.shift_ids``) are checked against each shift's capacity
    under the same event lock; a full shift is an error, not a waiting list, so the
    person can pick another. Answers to the host's questions are stored with the RSVP
    and written on the timeline.

    A second RSVP from the same person while the first stands is a duplicate: nothing
    changes and the first is returned. A cancelled RSVP is brought back.
    Raises ValidationError for bad details, a full shift or an event that takes no
    RSVPs; nothing is written then.
    """
    email = _rsvp_email_checked(event=event, data=data)
    answers = _clean_answers(event, data.answers)
    person = _rsvper_upsert(event=event, data=data, email=email)
    event = event_lock(event)
    existing = Rsvp.objects.filter(event=event, person=person).first()
    if existing is not None and existing.status != Rsvp.Status.CANCELLED:
        return RsvpResult(rsvp=existing, duplicate=True)
    places = 1 + data.guests
    shifts = _check_shifts(event, data.shift_ids, places=places, rsvp=existing)
    left = selectors.places_left(event)
    waitlisted_ahead = Rsvp.objects.filter(event=event, status=Rsvp.Status.WAITLISTED).exists()
    going = left is None or (places <= left and not waitlisted_ahead)
    rsvp = _rsvp_save(
        rsvp=existing or Rsvp(event=event, person=person), data=data, person=person, going=going
    )
    _set_shifts(rsvp, shifts)
    _set_answers(rsvp, answers)
    _rsvp_activity(
        event=event, rsvp=rsvp, person=person, going=going, shifts=shifts, answers=answers
    )
    EventEmail.objects.filter(
        event=event, person=person, kind__in=["confirm", "waitlist", "promoted"]
    ).delete()
    _queue("rsvp_confirmation_email", rsvp_id=rsvp.pk)
    return RsvpResult(rsvp=rsvp)


def _rsvp_email_checked(*, event: Event, data: RsvpInput) -> str:
    """The normalised email, once the details and the event's state allow an RSVP
    (ValidationError otherwise)."""
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
    return email


def _rsvper_upsert(*, event: Event, data: RsvpInput, email: str) -> Person:
    """Find or create the person RSVPing through ``person_upsert`` as a public write
    (invariant 8), subscribing them when they consent."""
    consent = None
    if data.email_consent:
        consent = ConsentInput(
            channel="email", wording=data.consent_wording, source=f"event:{event.pk}"
        )
    return person_upsert(
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
        public=True,
    ).person


def _rsvp_save(*, rsvp: Rsvp, data: RsvpInput, person: Person, going: bool) -> Rsvp:
    """Save ``rsvp`` (new, or a cancelled one brought back) as going or waitlisted; a
    recruiter never recruits themselves."""
    recruiter = (
        data.recruiter if data.recruiter is not None and data.recruiter.pk != person.pk else None
    )
    rsvp.status = Rsvp.Status.GOING if going else Rsvp.Status.WAITLISTED
    rsvp.guests = data.guests
    rsvp.source = data.source[:100]
    rsvp.referrer = data.referrer[:500]
    # As typed: a public RSVP never rewrites the stored person (see people.services).
    rsvp.submitted = {
        k: str(v).strip()[:200]
        for k, v in (
            ("first_name", data.first_name),
            ("last_name", data.last_name),
            ("postcode", data.postcode),
            ("phone", data.phone),
        )
        if v and str(v).strip()
    }
    rsvp.recruiter = recruiter
    rsvp.created_at = timezone.now()
    rsvp.cancelled_at = None
    rsvp.attendance = Rsvp.Attendance.UNKNOWN
    rsvp.save()
    return rsvp


def _rsvp_activity(
    *, event: Event, rsvp: Rsvp, person: Person, going: bool, shifts: list[Shift], answers: dict
) -> None:
    activity_record(
        person=person,
        kind=Activity.Kind.EVENT,
        summary=(
            _("RSVP'd to “%(title)s”") if going else _("Joined the waiting list for “%(title)s”")
        )
        % {"title": event.title}
        + _choices_summary(shifts, answers),
        data={
            "event": event.pk,
            "rsvp": rsvp.pk,
            "status": rsvp.status,
            "guests": rsvp.guests,
            **_choices_data(shifts, answers),
        },
    )


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
    event = event_lock(rsvp.event)
    rsvp = Rsvp.objects.select_related("person").get(pk=rsvp.pk)
    if rsvp.status == Rsvp.Status.CANCELLED:
        return []
    rsvp.status = Rsvp.Status.CANCELLED
    rsvp.cancelled_at = timezone.now()
    rsvp.save(update_fields=["status", "cancelled_at"])
    ShiftSignup.objects.filter(rsvp=rsvp).delete()
    activity_record(
        person=rsvp.person,
        kind=Activity.Kind.EVENT,
        actor=actor,
        summary=_("Cancelled their RSVP to “%(title)s”") % {"title": event.title},
        data={"event": event.pk, "rsvp": rsvp.pk, "status": rsvp.status},
    )
    return _promote_waiting(event)


@transaction.atomic
def rsvp_change(
    *, rsvp: Rsvp, guests: int, shift_ids: list[int], answers: dict, actor=None
) -> list[Rsvp]:
    """Change a standing RSVP (through its signed manage link): guests, shifts and
    answers. Under the event lock: more guests must fit in the places left (someone
    going keeps their place or gets an error, never a silent move to the waiting
    list); the shifts are checked as in ``rsvp_create``. Places freed go to the
    waiting list at once; returns those promoted (each emailed on commit).

    Raises ValidationError for a cancelled RSVP, a finished event, too many guests, a
    full shift or a missing answer; nothing is written then.
    """
    if not 0 <= guests <= MAX_GUESTS:
        raise ValidationError(
            {"guests": _("Bring between 0 and %(n)s guests.") % {"n": MAX_GUESTS}}
        )
    event = event_lock(rsvp.event)
    rsvp = Rsvp.objects.select_related("person").get(pk=rsvp.pk)
    if rsvp.status == Rsvp.Status.CANCELLED:
        raise ValidationError({"__all__": _("This RSVP is cancelled. RSVP again to come.")})
    if event.ends_at < timezone.now():
        raise ValidationError({"__all__": _("This event has finished.")})
    cleaned = _clean_answers(event, answers)
    if rsvp.status == Rsvp.Status.GOING and guests > rsvp.guests:
        left = selectors.places_left(event)
        if left is not None and guests - rsvp.guests > left:
            raise ValidationError(
                {
                    "guests": _("Only %(n)s more places are free, so you can bring %(max)s guests.")
                    % {"n": left, "max": rsvp.guests + left}
                }
            )
    shifts = _check_shifts(event, shift_ids, places=1 + guests, rsvp=rsvp)
    rsvp.guests = guests
    rsvp.save(update_fields=["guests"])
    _set_shifts(rsvp, shifts)
    _set_answers(rsvp, cleaned)
    activity_record(
        person=rsvp.person,
        kind=Activity.Kind.EVENT,
        actor=actor,
        summary=_("Changed their RSVP to “%(title)s”") % {"title": event.title}
        + (" · " + _("guests: %(n)s") % {"n": guests})
        + _choices_summary(shifts, cleaned),
        data={
            "event": event.pk,
            "rsvp": rsvp.pk,
            "status": rsvp.status,
            "guests": guests,
            **_choices_data(shifts, cleaned),
        },
    )
    return _promote_waiting(event)


@transaction.atomic
def event_capacity_raise(*, event: Event) -> list[Rsvp]:
    """Promote whoever on the waiting list now fits. ``event_save`` already does this
    when it raises the capacity, so callers need not; calling it again promotes
    nobody twice (it runs under the event lock and finds nobody left who fits)."""
    return _promote_waiting(event_lock(event))


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
        # Through the host link (no staff actor) the host vouches for nobody's record.
        public=actor is None,
    ).person
    event = event_lock(event)
    rsvp, _created = Rsvp.objects.get_or_create(
        event=event, person=person, defaults={"walk_in": True}
    )
    rsvp.status = Rsvp.Status.GOING
    rsvp.save(update_fields=["status"])
    return checkin_mark(rsvp=rsvp, attendance=Rsvp.Attendance.ATTENDED, actor=actor)


@transaction.atomic
def canvass_contact_record(
    *,
    event: Event,
    first_name: str,
    outcome: str,
    last_name: str = "",
    email: str = "",
    phone: str = "",
    postcode: str = "",
    support_level: int | None = None,
    note: str = "",
) -> CanvassResult:
    """A member host's result for a contact named by the details they gave on the
    doorstep or phone: the contact is matched or added (``person_upsert``), the result
    recorded as ``canvass_record`` does. Raises ValidationError (field → message);
    nothing is written then."""
    if outcome not in CanvassResult.Outcome.values:
        raise ValidationError({"outcome": _("Choose an outcome.")})
    if support_level is not None and not 1 <= support_level <= 5:
        raise ValidationError({"support_level": _("Support is from 1 to 5.")})
    if event.kind not in (Event.Kind.CANVASS, Event.Kind.PHONE_BANK):
        raise ValidationError(_("Only canvasses and phone banks record contacts."))
    person = person_upsert(
        email=email or None,
        phone=phone or None,
        first_name=first_name,
        last_name=last_name,
        postcode=postcode or None,
        source_code=f"event:{event.pk}",
        public=True,
    ).person
    return canvass_record(
        event=event, person=person, outcome=outcome, support_level=support_level, note=note
    )


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
    *,
    event: Event,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    postcode: str = "",
) -> Event:
    """A member proposes ``event`` (unsaved) and becomes its host. Published straight
    away when the area's policy allows, else it waits in the organisers' queue. The
    host link is emailed on commit once it is published. The host's own ``postcode``
    places them in an area, so that area's organisers can reach them."""
    try:
        person = person_upsert(
            email=email,
            phone=phone or None,
            first_name=first_name,
            last_name=last_name,
            postcode=postcode or None,
            source_code="event:proposal",
            public=True,
        ).person
    except ValidationError as exc:
        # The event has a postcode of its own: say which one was wrong.
        errors = getattr(exc, "error_dict", None)
        if errors and "postcode" in errors:
            errors["host_postcode"] = errors.pop("postcode")
        raise
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


# --- Host messages --------------------------------------------------------------


def host_message_limit() -> int:
    return int(getattr(settings, "CLARION_EVENTS_HOST_MESSAGES_PER_DAY", HOST_MESSAGES_PER_DAY))


@transaction.atomic
def host_message_send(
    *,
    event: Event,
    subject: str,
    body: str,
    include_waitlisted: bool = False,
    user=None,
) -> HostMessage:
    """Queue a message to ``event``'s attendees: from the member host (``user`` None,
    through the host link) to all of them, or from staff ``user`` to those in their
    scope. At most ``CLARION_EVENTS_HOST_MESSAGES_PER_DAY`` (default 3) messages per
    event in any 24 hours, counted under the event lock so two tabs cannot both send
    the last one. The sending task is queued on commit; each copy goes out once.

    Raises ValidationError for an empty message, the limit reached, or nobody to send to.
    """
    subject = " ".join((subject or "").split())
    body = (body or "").strip()
    errors = {}
    if not subject:
        errors["subject"] = _("Write a subject.")
    elif len(subject) > 150:
        errors["subject"] = _("Keep the subject under 150 characters.")
    if not body:
        errors["body"] = _("Write a message.")
    elif len(body) > 10000:
        errors["body"] = _("Keep the message under 10,000 characters.")
    if errors:
        raise ValidationError(errors)
    event = event_lock(event)
    limit = host_message_limit()
    since = timezone.now() - datetime.timedelta(hours=24)
    if HostMessage.objects.filter(event=event, created_at__gte=since).count() >= limit:
        raise ValidationError(
            {
                "__all__": _(
                    "This event has already sent %(n)s messages in the last 24 hours, the "
                    "most allowed. Try again tomorrow."
                )
                % {"n": limit}
            }
        )
    message = HostMessage(
        event=event,
        subject=subject,
        body=body,
        include_waitlisted=include_waitlisted,
        from_host=user is None,
        sent_by=user if getattr(user, "pk", None) else None,
    )
    count = selectors.host_message_recipients(message).count()
    if not count:
        raise ValidationError({"__all__": _("There is nobody to send this to yet.")})
    message.recipients = count
    message.save()
    _queue("host_message_email", message_id=message.pk)
    return message


def host_message_delivered(*, message: HostMessage, rsvp: Rsvp) -> None:
    """Write a sent copy onto the recipient's timeline (called once per copy sent)."""
    activity_record(
        person=rsvp.person,
        kind=Activity.Kind.EVENT,
        actor=message.sent_by,
        summary=_("Sent a message about “%(title)s”: %(subject)s")
        % {"title": message.event.title, "subject": message.subject},
        data={"event": message.event_id, "host_message": message.pk},
    )


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
