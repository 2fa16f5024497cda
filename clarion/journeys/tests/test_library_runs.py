"""The membership and event templates, run: who gets which step."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.core.testing import factories
from clarion.events.models import Event, Rsvp
from clarion.events.services import checkin_mark, event_save
from clarion.journeys import engine, services, triggers
from clarion.journeys.models import Enrolment, StepRun
from clarion.people.models import EmailStatus, MembershipStatus, Tag
from clarion.people.services import email_status_set, person_membership_set

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("mail_settings", "from_addresses")]

DAY = datetime.timedelta(days=1)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def publish(admin, key):
    journey = services.journey_from_template(
        key=key, actor=admin, from_name="Clarion HQ", from_email="hq@clarion.example.org"
    )
    return services.journey_set_status(journey=journey, actor=admin, move="publish")


def path(person) -> list[str]:
    """The steps the person went through, in order (a wait is recorded when it starts
    and when it ends: once here)."""
    keys = (
        StepRun.objects.filter(enrolment__person=person)
        .order_by("created_at", "pk")
        .values_list("step__key", flat=True)
    )
    return list(dict.fromkeys(keys))


def supporter(email):
    person = factories.person(email=email)
    email_status_set(person=person, status=EmailStatus.SUBSCRIBED)
    return person


def member(person, status, renews_on, number):
    person_membership_set(
        person=person,
        status=status,
        number=number,
        joined_on=datetime.date(2025, 1, 1),
        renews_on=renews_on,
    )


def test_lapsed_win_back_asks_twice_and_converts_those_who_rejoin(admin, capture):
    back, gone = supporter("back@example.net"), supporter("gone@example.net")
    renews = timezone.localdate() - DAY
    for number, person in enumerate((back, gone), start=1):
        member(person, MembershipStatus.ACTIVE, renews, str(number))
    journey = publish(admin, "lapsed_win_back")
    with capture():
        for number, person in enumerate((back, gone), start=1):
            member(person, MembershipStatus.LAPSED, renews, str(number))
    assert Enrolment.objects.filter(journey=journey).count() == 2
    now = timezone.now() + datetime.timedelta(seconds=1)
    engine.advance_due(now=now)
    engine.advance_due(now=now + 7 * DAY)
    member(back, MembershipStatus.ACTIVE, renews + 365 * DAY, "1")  # rejoins
    engine.advance_due(now=now + 21 * DAY + datetime.timedelta(seconds=1))
    states = dict(Enrolment.objects.values_list("person__email", "state"))
    assert states == {
        "back@example.net": Enrolment.State.CONVERTED,
        "gone@example.net": Enrolment.State.COMPLETED,
    }
    assert path(gone) == ["ask", "wait", "again", "give_time", "back", "end"]
    assert path(back)[:4] == ["ask", "wait", "again", "give_time"]
    # Both emails went into the mailing ledger for both people.
    queued = StepRun.objects.filter(outcome=StepRun.Outcome.QUEUED)
    assert sorted(queued.values_list("step__key", flat=True)) == ["again", "again", "ask", "ask"]


def test_lapsing_renew_asks_before_the_date_and_tags_those_still_active(admin):
    today = timezone.localdate()
    stays, goes = supporter("stays@example.net"), supporter("goes@example.net")
    member(stays, MembershipStatus.ACTIVE, today + 30 * DAY, "1")
    member(goes, MembershipStatus.ACTIVE, today + 30 * DAY, "2")
    journey = publish(admin, "lapsing_renew")
    now = timezone.now() + datetime.timedelta(seconds=1)
    assert triggers.poll_all(now=now) == 2
    engine.advance_due(now=now)
    member(stays, MembershipStatus.ACTIVE, today + 395 * DAY, "1")  # renewed
    member(goes, MembershipStatus.LAPSED, today + 30 * DAY, "2")
    engine.advance_due(now=now + 32 * DAY + datetime.timedelta(seconds=1))
    assert path(stays) == ["ask", "wait", "still", "renewed", "end"]
    assert path(goes) == ["ask", "wait", "still", "end"]
    assert list(Tag.objects.get(name="renewed").people.values_list("email", flat=True)) == [
        "stays@example.net"
    ]
    assert Enrolment.objects.filter(journey=journey, state="completed").count() == 2


def _event(areas, starts_at, title):
    return event_save(
        event=Event(
            area=areas.leeds_central,
            postcode="LS1 4AP",
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=2),
            title=title,
            kind=Event.Kind.MEETING,
            venue="Library",
            capacity=10,
        )
    )


def test_rsvp_follow_up_thanks_those_who_came_and_misses_those_who_did_not(admin, areas):
    journey = publish(admin, "rsvp_follow_up")
    now = timezone.now()
    past = _event(areas, now - 3 * DAY, "Last week's meeting")
    coming = _event(areas, now + 30 * DAY, "Next month's meeting")
    came, missed, later = (supporter(f"{n}@example.net") for n in ("came", "missed", "later"))
    checkin_mark(rsvp=Rsvp.objects.create(event=past, person=came), attendance="attended")
    Rsvp.objects.create(event=past, person=missed)
    Rsvp.objects.create(event=coming, person=later)
    for person in (came, missed, later):
        services.enrol(journey=journey, person_id=person.pk)
    start = timezone.now() + datetime.timedelta(seconds=1)
    engine.advance_due(now=start)
    engine.advance_due(now=start + 14 * DAY)
    assert path(came) == ["reminder", "wait", "came", "thanks", "end"]
    assert path(missed) == ["reminder", "wait", "came", "missed", "sorry", "end"]
    # Their event has not happened: neither thanked nor told they were missed.
    assert path(later) == ["reminder", "wait", "came", "missed", "end"]
