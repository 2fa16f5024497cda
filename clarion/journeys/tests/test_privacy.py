"""Subject access, erasure and merging reach journeys (invariant 7), and the
"journey" segment condition."""

from __future__ import annotations

import pytest

from clarion.core import privacy
from clarion.journeys import engine, services
from clarion.journeys.models import Enrolment, StepRun, Todo
from clarion.people.segments.compiler import validate_definition
from clarion.people.segments.registry import SegmentDefinitionError
from clarion.people.segments.selectors import segment_people
from clarion.people.services import person_erase, person_merge

from .conftest import make_journey

pytestmark = pytest.mark.django_db

STEPS = [
    {"key": "call", "type": "human", "config": {"note": "Phone them"}, "next": "wait"},
    {"key": "wait", "type": "wait", "config": {"days": 3}},
]


def test_enrolments_and_to_dos_are_in_the_subject_access_export(admin, north_person):
    journey = make_journey(admin, STEPS, name="Host ladder")
    services.enrol(journey=journey, person_id=north_person.pk)
    engine.advance_due()
    data = privacy.export_person(north_person)["journeys"]
    assert data["enrolments"][0]["journey"] == "Host ladder"
    assert [s["step"] for s in data["enrolments"][0]["steps"]] == ["call", "wait"]
    assert data["todos"][0]["note"] == "Phone them"


def test_erasure_removes_enrolments_step_runs_and_to_dos(admin, north_person):
    journey = make_journey(admin, STEPS)
    services.enrol(journey=journey, person_id=north_person.pk)
    engine.advance_due()
    person_erase(person=north_person, actor=admin)
    assert not Enrolment.objects.exists()
    assert not StepRun.objects.exists()
    assert not Todo.objects.exists()


def test_merging_keeps_one_enrolment_per_journey(admin, north_person, south_person):
    both = make_journey(admin, STEPS, name="Both", trigger_config={"tag": "a"})
    only_dup = make_journey(admin, STEPS, name="Dup", trigger_config={"tag": "b"})
    for p in (north_person, south_person):
        services.enrol(journey=both, person_id=p.pk)
    services.enrol(journey=only_dup, person_id=south_person.pk)
    engine.advance_due()
    person_merge(survivor=north_person, duplicate=south_person, actor=admin)
    assert sorted(
        Enrolment.objects.filter(person=north_person).values_list("journey__name", flat=True)
    ) == ["Both", "Dup"]
    assert Todo.objects.filter(person=north_person).count() == 3


def test_the_journey_segment_condition(admin, north_person, south_person):
    journey = make_journey(admin, STEPS)
    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due()
    Enrolment.objects.filter(person=south_person).update(state=Enrolment.State.LEFT)

    def who(**params):
        definition = {
            "op": "all",
            "conditions": [{"type": "journey", "journey": journey.pk, **params}],
        }
        return sorted(p.email for p in segment_people(admin, definition))

    assert who(state="in") == ["nora@example.net"]
    assert who(state="left") == ["sid@example.net"]
    assert who(state="ever") == ["nora@example.net", "sid@example.net"]
    assert who(state="in", step="wait") == ["nora@example.net"]
    assert who(state="in", step="call") == []
    assert who(state="completed") == []
    with pytest.raises(SegmentDefinitionError):
        validate_definition(
            {"op": "all", "conditions": [{"type": "journey", "journey": 999, "state": "in"}]}
        )


def test_segment_trigger_presence_is_exported_and_erased(admin, north_person):
    from clarion.journeys import triggers
    from clarion.journeys.models import SegmentPresence
    from clarion.people.models import Tag
    from clarion.people.services import tag_add

    vip = Tag.objects.create(name="vip")
    definition = {"op": "all", "conditions": [{"type": "tag", "tags": [vip.pk], "match": "any"}]}
    journey = make_journey(
        admin, STEPS, trigger="segment", trigger_config={"definition": definition}
    )
    tag_add(person=north_person, tag=vip)
    assert triggers.poll_all() == 1
    assert privacy.export_person(north_person)["journeys"]["segment_triggers_met"] == [journey.pk]
    person_erase(person=north_person, actor=admin)
    assert not SegmentPresence.objects.exists()
