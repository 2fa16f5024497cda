"""Capacity holds under concurrent RSVPs (the event row is locked while places are
counted), and one person racing themselves gets one RSVP."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from clarion.events.models import Rsvp
from clarion.events.selectors import places_taken
from clarion.events.services import RsvpInput, rsvp_create

from .conftest import make_event

pytestmark = pytest.mark.django_db(transaction=True)


def _race(calls) -> list[BaseException]:
    """Run ``calls`` at once in threads. SQLite's IMMEDIATE transactions serialise
    writers on the one database lock, so there is no row lock to contend for and they
    run one after another; on PostgreSQL they start together and contend for the
    event row lock."""
    errors: list[BaseException] = []
    together = connection.vendor == "postgresql"
    barrier = threading.Barrier(len(calls))
    turn = threading.Lock()

    def run(fn):
        try:
            if together:
                barrier.wait(timeout=10)
                fn()
            else:
                with turn:
                    fn()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def test_concurrent_rsvps_never_exceed_capacity(areas):
    event = make_event(area=areas.leeds_central, capacity=3)
    calls = [
        (lambda i=i: rsvp_create(event=event, data=RsvpInput(email=f"racer{i}@example.net")))
        for i in range(8)
    ]
    assert _race(calls) == []
    assert places_taken(event) == 3
    assert Rsvp.objects.filter(event=event, status=Rsvp.Status.GOING).count() == 3
    assert Rsvp.objects.filter(event=event, status=Rsvp.Status.WAITLISTED).count() == 5


def test_concurrent_rsvps_with_guests_never_exceed_capacity(areas):
    event = make_event(area=areas.leeds_central, capacity=3)
    calls = [
        (
            lambda i=i: rsvp_create(
                event=event, data=RsvpInput(email=f"party{i}@example.net", guests=i % 2)
            )
        )
        for i in range(8)
    ]
    assert _race(calls) == []
    assert 1 <= places_taken(event) <= 3
    assert Rsvp.objects.filter(event=event).count() == 8


def test_same_person_racing_gets_one_rsvp(areas):
    event = make_event(area=areas.leeds_central, capacity=10)
    calls = [
        (lambda: rsvp_create(event=event, data=RsvpInput(email="twice@example.net")))
        for _ in range(3)
    ]
    errors = _race(calls)
    assert errors == []
    assert Rsvp.objects.filter(event=event).count() == 1


def test_concurrent_shift_signups_never_exceed_the_shifts_capacity(areas):
    import datetime

    from django.core.exceptions import ValidationError

    from clarion.events.models import Shift, ShiftSignup

    event = make_event(area=areas.leeds_central)  # no event-wide limit: only the shift's
    shift = Shift.objects.create(
        event=event,
        starts_at=event.starts_at,
        ends_at=event.starts_at + datetime.timedelta(hours=1),
        capacity=2,
    )
    calls = [
        (
            lambda i=i: rsvp_create(
                event=event, data=RsvpInput(email=f"shift{i}@example.net", shift_ids=[shift.pk])
            )
        )
        for i in range(6)
    ]
    errors = _race(calls)
    assert len(errors) == 4 and all(isinstance(e, ValidationError) for e in errors)
    assert all("shifts" in e.message_dict for e in errors)
    assert ShiftSignup.objects.filter(shift=shift).count() == 2
    # A refused sign-up leaves nothing behind: no RSVP without its shift.
    assert Rsvp.objects.filter(event=event).count() == 2
