"""Building journeys: validation, the unique enrolment rules, versions, status moves."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clarion.journeys import services
from clarion.journeys.models import Enrolment, Journey, Step
from clarion.journeys.steps import step_type

from .conftest import email_config, make_journey

pytestmark = pytest.mark.django_db

TWO_STEPS = [
    {"key": "tag", "type": "tag_add", "config": {"tag": "welcomed"}, "next": "end"},
    {"key": "end", "type": "end"},
]


def test_a_journey_is_made_in_the_organisers_area_with_linked_steps(organiser, areas):
    journey = make_journey(organiser, TWO_STEPS, publish=False)

    assert journey.area == areas.north
    assert journey.status == Journey.Status.DRAFT
    tag, end = Step.objects.filter(journey=journey).order_by("position")
    assert (tag.key, tag.type, tag.next_id) == ("tag", "tag_add", end.pk)
    assert end.next_id is None


@pytest.mark.parametrize(
    "steps, message",
    [
        ([], "at least one step"),
        ([{"key": "a", "type": "teleport"}], "no step type “teleport”"),
        ([{"key": "a", "type": "wait", "config": {}}], "how long to wait"),
        ([{"key": "a", "type": "wait", "config": {"days": -1}}], "greater than or equal to 0"),
        ([{"key": "a", "type": "split", "config": {"percent": 150}}], "less than or equal to 99"),
        ([{"key": "a", "type": "end", "next": "b"}], "cannot have a “next” branch"),
        ([{"key": "a", "type": "tag_add", "config": {"tag": "x"}, "next": "zz"}], "names no step"),
        ([{"key": "A B", "type": "end"}], "needs a key"),
        ([{"key": "a", "type": "end"}, {"key": "a", "type": "end"}], "used twice"),
        (
            [{"key": "a", "type": "tag_add", "config": {"tag": "x", "colour": 1}}],
            "Unknown settings",
        ),
        (
            [{"key": "a", "type": "decision", "config": {"definition": {"op": "maybe"}}}],
            "“op” must be all, any or not",
        ),
        (
            [{"key": "a", "type": "email", "config": email_config(body="Hi {{ password }}")}],
            "Unknown merge field",
        ),
        (
            [
                {
                    "key": "a",
                    "type": "email",
                    "config": email_config(body='{% if_segment "Donors" %}x{% end %}'),
                }
            ],
            "Segment blocks",
        ),
        ("not a list", "at least one step"),
    ],
)
def test_bad_steps_are_refused_with_a_message_naming_the_step(admin, steps, message):
    with pytest.raises(ValidationError) as exc:
        services.journey_create(
            actor=admin,
            name="Bad",
            trigger_type="tag_added",
            trigger_config={"tag": "x"},
            steps=steps,
        )
    assert any(message in m for m in exc.value.messages), exc.value.messages
    assert not Journey.objects.exists()


def test_an_organiser_cannot_send_from_an_address_not_allowed_for_their_area(
    organiser, from_addresses
):
    steps = [{"key": "a", "type": "email", "config": email_config(from_email="boss@elsewhere.org")}]
    with pytest.raises(ValidationError) as exc:
        services.journey_create(
            actor=organiser,
            name="X",
            trigger_type="tag_added",
            trigger_config={"tag": "x"},
            steps=steps,
        )
    assert "not allowed for this area" in " ".join(exc.value.messages)


def test_bad_triggers_are_refused(admin):
    for trigger, config, message in [
        ("telepathy", {}, "no trigger"),
        ("gave", {"which": "at_least"}, "Give the amount"),
        ("gave", {"which": "at_least", "amount": "lots"}, "Trigger"),
        ("action", {"page_kind": "séance"}, "Select a valid choice"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.journey_create(
                actor=admin, name="X", trigger_type=trigger, trigger_config=config, steps=TWO_STEPS
            )
        assert message in " ".join(exc.value.messages)


def test_an_analyst_cannot_build_journeys(analyst):
    with pytest.raises(PermissionDenied):
        make_journey(analyst, TWO_STEPS)


def test_a_person_is_in_a_journey_once_unless_re_entry_is_allowed(admin, north_person):
    journey = make_journey(admin, TWO_STEPS)
    assert services.enrol(journey=journey, person_id=north_person.pk) is True
    assert services.enrol(journey=journey, person_id=north_person.pk) is False
    Enrolment.objects.update(state=Enrolment.State.COMPLETED)
    assert services.enrol(journey=journey, person_id=north_person.pk) is False
    assert Enrolment.objects.count() == 1


def test_the_database_itself_refuses_a_second_enrolment(admin, north_person):
    journey = make_journey(admin, TWO_STEPS)
    services.enrol(journey=journey, person_id=north_person.pk)
    Enrolment.objects.update(state=Enrolment.State.COMPLETED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.create(journey=journey, person=north_person, version=1, once=True)


def test_with_re_entry_a_person_comes_back_after_finishing_but_never_twice_at_once(
    admin, north_person
):
    journey = make_journey(admin, TWO_STEPS, reentry_allowed=True)
    assert services.enrol(journey=journey, person_id=north_person.pk)
    assert not services.enrol(journey=journey, person_id=north_person.pk)
    Enrolment.objects.update(state=Enrolment.State.COMPLETED)
    assert services.enrol(journey=journey, person_id=north_person.pk)
    assert Enrolment.objects.filter(person=north_person).count() == 2


def test_editing_a_published_journey_makes_a_new_version_and_keeps_people_on_theirs(
    admin, north_person, south_person
):
    journey = make_journey(admin, TWO_STEPS)
    services.enrol(journey=journey, person_id=north_person.pk)
    old = Enrolment.objects.get(person=north_person)

    version = services.journey_steps_replace(
        journey=journey,
        actor=admin,
        steps=[{"key": "tag", "type": "tag_add", "config": {"tag": "welcomed-v2"}}],
    )

    assert version == 2
    old.refresh_from_db()
    assert (old.version, old.step.version, old.step.config) == (1, 1, {"tag": "welcomed"})
    services.enrol(journey=journey, person_id=south_person.pk)
    new = Enrolment.objects.get(person=south_person)
    assert (new.version, new.step.config) == (2, {"tag": "welcomed-v2"})
    assert Step.objects.filter(journey=journey, version=1).count() == 2


def test_a_draft_is_edited_in_place(admin):
    journey = make_journey(admin, TWO_STEPS, publish=False)
    services.journey_steps_replace(
        journey=journey, actor=admin, steps=[{"key": "end", "type": "end"}]
    )
    journey.refresh_from_db()
    assert journey.version == 1
    assert list(Step.objects.filter(journey=journey).values_list("key", flat=True)) == ["end"]


def test_status_moves(admin, north_person):
    journey = make_journey(admin, TWO_STEPS)
    services.enrol(journey=journey, person_id=north_person.pk)
    paused = services.journey_set_status(journey=journey, actor=admin, move="pause")
    assert paused.status == Journey.Status.PAUSED
    with pytest.raises(ValidationError):
        services.journey_set_status(journey=journey, actor=admin, move="pause")
    archived = services.journey_set_status(journey=journey, actor=admin, move="archive")
    assert archived.status == Journey.Status.ARCHIVED
    assert Enrolment.objects.get().state == Enrolment.State.LEFT
    with pytest.raises(ValidationError):
        services.journey_set_status(journey=journey, actor=admin, move="publish")


def test_publishing_prepares_a_standing_mailing_per_email_step(admin, from_addresses):
    journey = make_journey(
        admin,
        [{"key": "hello", "type": "email", "config": email_config()}],
        publish=False,
    )
    assert Step.objects.get().mailing is None
    services.journey_set_status(journey=journey, actor=admin, move="publish")
    mailing = Step.objects.get().mailing
    assert mailing.status == "sent" and mailing.frozen_at is not None
    assert mailing.subject == email_config()["subject"]
    assert [link.url for link in mailing.links.all()] == ["https://clarion.example.org/act/give/"]


def test_every_step_type_has_a_label_and_a_form():
    for name in (
        "email",
        "wait",
        "decision",
        "split",
        "tag_add",
        "tag_remove",
        "list_add",
        "human",
        "goal",
        "end",
    ):
        stype = step_type(name)
        assert stype is not None and str(stype.label)
