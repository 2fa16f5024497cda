"""The check-in search box: what a staff user or a member host types or scans at the
door, on the staff check-in page and the host page.

Apps above events recognise codes of their own through ``checkin_lookups`` (members
adds its membership card's QR code, as a ``/members/card/<token>/`` address or the bare
token); each is called with the stripped text and returns the person it names or None.
Text no lookup recognises searches the attendee list by name or email address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet

from clarion.people.models import Person

from .models import Event, Rsvp
from .services import checkin_mark, event_lock

# Filled by apps above events in their AppConfig.ready(); first match wins.
checkin_lookups: list[Callable[[str], Person | None]] = []

MAX_TEXT = 500


def checkin_person(text: str) -> Person | None:
    """The person a scanned or typed code names, through ``checkin_lookups``."""
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        return None
    for lookup in checkin_lookups:
        person = lookup(text)
        if person is not None:
            return person
    return None


def rsvps_matching(rsvps: QuerySet[Rsvp], text: str) -> QuerySet[Rsvp]:
    """``rsvps`` whose person's first name, last name, full name or email contains
    ``text`` (case-insensitive); all of them for empty text."""
    text = " ".join((text or "").split())[:100]
    if not text:
        return rsvps
    condition = (
        Q(person__first_name__icontains=text)
        | Q(person__last_name__icontains=text)
        | Q(person__email__icontains=text)
    )
    first, _sep, last = text.partition(" ")
    if last:
        condition |= Q(person__first_name__iexact=first, person__last_name__icontains=last)
    return rsvps.filter(condition)


@dataclass(frozen=True)
class Found:
    """A code's person at this event: their RSVP (not cancelled), or None if they have
    none and could be added as a walk-in."""

    person: Person
    rsvp: Rsvp | None


def checkin_find(
    *, event: Event, text: str, people: QuerySet[Person] | None = None
) -> Found | None:
    """The person ``text`` names (a card's code) with their RSVP to ``event``, or None
    when it names nobody, or nobody in ``people`` (the staff user's reach; None for
    a host, whose link reaches the event's own attendees and whoever is at the door)."""
    person = checkin_person(text)
    if person is None:
        return None
    if people is not None and not people.filter(pk=person.pk).exists():
        return None
    rsvp = (
        Rsvp.objects.filter(event=event, person=person)
        .exclude(status=Rsvp.Status.CANCELLED)
        .select_related("person", "event")
        .first()
    )
    return Found(person=person, rsvp=rsvp)


@transaction.atomic
def walkin_person_add(*, event: Event, person: Person, actor=None) -> Rsvp:
    """A known person (found by their card) who came without an RSVP: an RSVP marked
    walk-in, going and attended. Capacity does not apply (they are at the door). A
    cancelled RSVP of theirs is revived as going; running it twice changes nothing."""
    event = event_lock(event)
    rsvp, _created = Rsvp.objects.get_or_create(
        event=event, person=person, defaults={"walk_in": True}
    )
    if rsvp.status != Rsvp.Status.GOING:
        rsvp.status = Rsvp.Status.GOING
        rsvp.save(update_fields=["status"])
    return checkin_mark(rsvp=rsvp, attendance=Rsvp.Attendance.ATTENDED, actor=actor)
