"""An area organiser's journey reaches only the people of that area (invariant 4),
whatever its trigger matched: a timeline trigger, or a scheduled segment trigger."""

from __future__ import annotations

import pytest

from clarion.journeys import services, triggers
from clarion.journeys.models import Enrolment
from clarion.people.models import Tag
from clarion.people.services import tag_add

from .conftest import make_journey

pytestmark = pytest.mark.django_db

END = [{"key": "end", "type": "end"}]


def enrolled(journey) -> list[str]:
    return sorted(Enrolment.objects.filter(journey=journey).values_list("person__email", flat=True))


def test_a_tag_trigger_of_an_area_journey_enters_only_that_areas_people(
    organiser, admin, north_person, south_person, django_capture_on_commit_callbacks
):
    north = make_journey(organiser, END, trigger_config={"tag": "volunteer"}, name="North")
    national = make_journey(admin, END, trigger_config={"tag": "volunteer"}, name="All")
    assert north.area_id == organiser.area_id
    with django_capture_on_commit_callbacks(execute=True):
        tag_add(person=north_person, tag="volunteer")
        tag_add(person=south_person, tag="volunteer")
    assert enrolled(north) == ["nora@example.net"]
    assert enrolled(national) == ["nora@example.net", "sid@example.net"]


def test_a_segment_trigger_of_an_area_journey_enters_only_that_areas_people(
    organiser, north_person, south_person
):
    vip, _ = Tag.objects.get_or_create(name="vip")
    definition = {"op": "all", "conditions": [{"type": "tag", "tags": [vip.pk], "match": "any"}]}
    journey = make_journey(
        organiser, END, trigger="segment", trigger_config={"definition": definition}
    )
    tag_add(person=north_person, tag="vip")
    tag_add(person=south_person, tag="vip")
    assert triggers.poll_all() == 1
    assert enrolled(journey) == ["nora@example.net"]


def test_entering_someone_outside_the_area_directly_writes_nothing(organiser, south_person):
    journey = make_journey(organiser, END)
    assert services.enrol(journey=journey, person_id=south_person.pk) is False
    assert services.enrol_many(journey=journey, person_ids=[south_person.pk]) == 0
    assert not Enrolment.objects.exists()
