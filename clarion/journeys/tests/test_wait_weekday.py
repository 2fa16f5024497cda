"""Waiting until the next given weekday and time of day on the organisation's clock
(``TIME_ZONE``), across changes to and from summer time."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from clarion.journeys import engine, services
from clarion.journeys.models import Enrolment
from clarion.journeys.steps import next_local_time, step_type

from .conftest import make_journey

UTC = datetime.UTC


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.fixture
def london(settings):
    settings.TIME_ZONE = "Europe/London"


def test_monday_nine_stays_nine_when_summer_time_ends(london):
    # Friday 23 October 2026, 10:00 BST; the clocks go back on Sunday the 25th.
    friday = at(2026, 10, 23, 9, 0)
    assert next_local_time(friday, "09:00", "monday") == at(2026, 10, 26, 9, 0)  # 09:00 GMT


def test_monday_nine_stays_nine_when_summer_time_starts(london):
    # Friday 27 March 2026, 10:00 GMT; the clocks go forward on Sunday the 29th.
    friday = at(2026, 3, 27, 10, 0)
    assert next_local_time(friday, "09:00", "monday") == at(2026, 3, 30, 8, 0)  # 09:00 BST


def test_the_same_day_later_or_a_week_on(london):
    monday_eight = at(2026, 1, 5, 8, 0)  # GMT: local 08:00
    assert next_local_time(monday_eight, "09:00", "monday") == at(2026, 1, 5, 9, 0)
    monday_nine = at(2026, 1, 5, 9, 0)  # exactly then: the next one
    assert next_local_time(monday_nine, "09:00", "monday") == at(2026, 1, 12, 9, 0)


def test_time_of_day_alone_is_the_next_one_across_the_change(london):
    # Saturday 24 October 2026 20:00 BST → Sunday 07:00, now GMT.
    assert next_local_time(at(2026, 10, 24, 19, 0), "07:00") == at(2026, 10, 25, 7, 0)


def test_the_organisations_time_zone_is_the_setting(settings):
    settings.TIME_ZONE = "America/New_York"
    # Friday 30 October 2026 noon EDT; New York goes back on Sunday 1 November.
    assert next_local_time(at(2026, 10, 30, 16, 0), "09:00", "monday") == at(2026, 11, 2, 14, 0)


@pytest.mark.django_db
def test_a_journey_waits_until_the_next_monday_morning(london, admin, north_person):
    journey = make_journey(
        admin,
        [
            {"key": "wait", "type": "wait", "config": {"weekday": "monday", "at": "9:00"}},
        ],
    )
    config = journey.steps.get().config
    assert (config["weekday"], config["at"]) == ("monday", "09:00")
    services.enrol(journey=journey, person_id=north_person.pk)
    Enrolment.objects.update(next_run_at=at(2026, 10, 23, 9, 0))  # entered that Friday
    engine.advance_due(now=at(2026, 10, 23, 9, 0))
    enrolment = Enrolment.objects.get()
    assert enrolment.waiting and enrolment.next_run_at == at(2026, 10, 26, 9, 0)
    engine.advance_due(now=at(2026, 10, 26, 8, 59))
    assert Enrolment.objects.get().state == Enrolment.State.ACTIVE
    engine.advance_due(now=at(2026, 10, 26, 9, 0))
    assert Enrolment.objects.get().state == Enrolment.State.COMPLETED


@pytest.mark.parametrize(
    "config, message",
    [
        ({"weekday": "monday"}, "Give the time of day"),
        ({"weekday": "someday", "at": "09:00"}, "Select a valid choice"),
        ({"at": "25:00"}, "Enter a valid time"),
        ({"at": "09:00", "days": 1}, "one of them"),
    ],
)
def test_bad_day_and_time_settings_are_form_errors(config, message):
    with pytest.raises(ValidationError) as exc:
        step_type("wait").clean(config)
    assert message in " ".join(exc.value.messages)


def test_it_describes_itself():
    assert step_type("wait").describe({"weekday": "monday", "at": "09:00"}) == (
        "Wait until the next Monday, 09:00"
    )
