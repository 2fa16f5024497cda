"""Triggers: timeline entries enter people into published journeys after the commit,
through people.services.activity_listeners."""

from __future__ import annotations

import pytest

from clarion.actions.models import ActionPage
from clarion.actions.services import SubmissionInput, page_save, submission_record
from clarion.donations import services as donations
from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, checkin_mark, event_save, rsvp_create
from clarion.journeys.models import Enrolment
from clarion.people.services import tag_add

from .conftest import make_journey

pytestmark = pytest.mark.django_db

STEPS = [{"key": "end", "type": "end"}]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def enrolled(journey) -> list[str]:
    return sorted(Enrolment.objects.filter(journey=journey).values_list("person__email", flat=True))


def test_tag_added_enters_only_people_given_that_tag(admin, north_person, south_person, capture):
    journey = make_journey(admin, STEPS, trigger="tag_added", trigger_config={"tag": "Volunteer"})
    with capture():
        tag_add(person=north_person, tag="volunteer")
        tag_add(person=south_person, tag="donor")
    assert enrolled(journey) == ["nora@example.net"]


def test_a_draft_or_paused_journey_enters_nobody(admin, north_person, capture):
    make_journey(admin, STEPS, publish=False, trigger_config={"tag": "v"})
    with capture():
        tag_add(person=north_person, tag="v")
    assert not Enrolment.objects.exists()


def test_nothing_is_entered_when_the_transaction_rolls_back(admin, north_person, capture):
    from django.db import transaction

    journey = make_journey(admin, STEPS, trigger_config={"tag": "v"})
    with capture():
        with pytest.raises(RuntimeError), transaction.atomic():
            tag_add(person=north_person, tag="v")
            raise RuntimeError
    assert enrolled(journey) == []


@pytest.fixture
def petition(areas):
    return page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION,
            slug="save-the-library",
            title="Save the library",
            status=ActionPage.Status.LIVE,
            body="Sign",
            goal=100,
        )
    )


@pytest.fixture
def pledge(areas):
    return page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PLEDGE, slug="pledge", title="Pledge", status="live", body="P"
        )
    )


def test_took_an_action_matches_the_page_or_its_kind(admin, petition, pledge, capture):
    on_page = make_journey(
        admin, STEPS, trigger="action", trigger_config={"page": petition.pk}, name="page"
    )
    any_pledge = make_journey(
        admin, STEPS, trigger="action", trigger_config={"page_kind": "pledge"}, name="kind"
    )
    with capture():
        submission_record(
            page=petition, data=SubmissionInput(email="ann@example.net", first_name="Ann")
        )
        submission_record(
            page=pledge, data=SubmissionInput(email="bob@example.net", first_name="Bob")
        )
    assert enrolled(on_page) == ["ann@example.net"]
    assert enrolled(any_pledge) == ["bob@example.net"]


@pytest.fixture
def donation_page(areas):
    return ActionPage.objects.create(
        kind=ActionPage.Kind.DONATION,
        slug="fund-the-fight",
        title="Fund the fight",
        status=ActionPage.Status.LIVE,
        suggested_amounts=[500, 1000, 2500],
    )


def _give(page, person, pence):
    donation = donations.donation_start(
        page=page,
        person=person,
        amount_pence=pence,
        currency="GBP",
        recurring=False,
        attribution={},
    ).donation
    donations.donation_succeed(donation_id=donation.pk)


def test_gave_any_first_or_at_least_an_amount(
    admin, donation_page, north_person, south_person, capture
):
    any_gift = make_journey(
        admin,
        STEPS,
        trigger="gave",
        trigger_config={"which": "any"},
        name="a",
        reentry_allowed=True,
    )
    first = make_journey(
        admin,
        STEPS,
        trigger="gave",
        trigger_config={"which": "first"},
        name="f",
        reentry_allowed=True,
    )
    big = make_journey(
        admin, STEPS, trigger="gave", trigger_config={"which": "at_least", "amount": "20"}, name="b"
    )
    with capture():
        _give(donation_page, north_person, 500)
    Enrolment.objects.update(state=Enrolment.State.COMPLETED)
    with capture():
        _give(donation_page, north_person, 2500)
        _give(donation_page, south_person, 1999)
    assert Enrolment.objects.filter(journey=any_gift).count() == 3
    assert enrolled(first) == ["nora@example.net", "sid@example.net"]
    assert enrolled(big) == ["nora@example.net"]


def test_rsvp_and_attendance_enter_their_journeys(admin, areas, capture):
    import datetime

    from django.utils import timezone

    start = (timezone.now() + datetime.timedelta(days=3)).replace(microsecond=0)
    event = event_save(
        event=Event(
            area=areas.leeds_central,
            postcode="LS1 4AP",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            title="Door knocking",
            kind=Event.Kind.CANVASS,
            venue="Library",
            capacity=10,
        )
    )
    rsvped = make_journey(
        admin, STEPS, trigger="rsvp", trigger_config={"event": event.pk}, name="r"
    )
    came = make_journey(admin, STEPS, trigger="attended", trigger_config={}, name="c")
    with capture():
        rsvp_create(event=event, data=RsvpInput(email="ann@example.net", first_name="Ann"))
        rsvp_create(event=event, data=RsvpInput(email="bob@example.net", first_name="Bob"))
    assert enrolled(rsvped) == ["ann@example.net", "bob@example.net"]
    assert enrolled(came) == []
    with capture():
        checkin_mark(rsvp=Rsvp.objects.get(person__email="ann@example.net"), attendance="attended")
        checkin_mark(rsvp=Rsvp.objects.get(person__email="bob@example.net"), attendance="no_show")
    assert enrolled(came) == ["ann@example.net"]


def test_a_burst_of_entries_queues_one_engine_task(admin, areas, capture):
    from django_tasks_db.models import DBTaskResult

    from clarion.core.testing import factories

    make_journey(admin, STEPS, trigger_config={"tag": "burst"})
    people = [factories.person() for _ in range(5)]
    before = DBTaskResult.objects.filter(task_path__contains="journeys_advance").count()
    with capture():
        for p in people:
            tag_add(person=p, tag="burst")
    assert Enrolment.objects.count() == 5
    assert DBTaskResult.objects.filter(task_path__contains="journeys_advance").count() == before + 1
