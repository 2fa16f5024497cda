"""Subject access, erasure and merging cover what events hold about a person."""

from __future__ import annotations

import pytest

from clarion.core import privacy
from clarion.events.models import CanvassResult, Rsvp
from clarion.events.services import RsvpInput, canvass_record, rsvp_create
from clarion.people.services import person_erase, person_merge

from .conftest import make_event

pytestmark = pytest.mark.django_db


def test_export_lists_rsvps_and_canvass_results(areas, north_person):
    event = make_event(area=areas.leeds_central)
    rsvp_create(event=event, data=RsvpInput(email=north_person.email, guests=2))
    canvass_record(event=event, person=north_person, outcome="spoke", support_level=5)
    data = privacy.export_person(north_person)["events"]
    assert data["rsvps"][0]["event"] == event.title and data["rsvps"][0]["guests"] == 2
    assert data["canvass_results"][0]["support_level"] == 5


def test_erasure_removes_rsvps_and_results(areas, admin, north_person):
    event = make_event(area=areas.leeds_central)
    rsvp_create(event=event, data=RsvpInput(email=north_person.email))
    canvass_record(event=event, person=north_person, outcome="refused")
    person_erase(person=north_person, actor=admin)
    assert not Rsvp.objects.exists() and not CanvassResult.objects.exists()


def test_merge_keeps_one_rsvp_per_event(areas, admin, north_person, south_person):
    both = make_event(area=areas.leeds_central, title="Both")
    only_dup = make_event(area=areas.leeds_central, title="Only duplicate")
    rsvp_create(event=both, data=RsvpInput(email=north_person.email))
    rsvp_create(event=both, data=RsvpInput(email=south_person.email))
    rsvp_create(event=only_dup, data=RsvpInput(email=south_person.email))
    person_merge(survivor=north_person, duplicate=south_person, actor=admin)
    assert sorted(
        Rsvp.objects.filter(person=north_person).values_list("event__title", flat=True)
    ) == ["Both", "Only duplicate"]


def test_export_and_erasure_cover_shifts_and_answers(areas, admin, north_person):
    import datetime

    from clarion.events.models import Answer, Question, Shift, ShiftSignup

    event = make_event(area=areas.leeds_central)
    shift = Shift.objects.create(
        event=event,
        label="Early",
        starts_at=event.starts_at,
        ends_at=event.starts_at + datetime.timedelta(hours=1),
    )
    question = Question.objects.create(event=event, text="Access needs?")
    rsvp_create(
        event=event,
        data=RsvpInput(
            email=north_person.email, shift_ids=[shift.pk], answers={question.pk: "Step-free"}
        ),
    )
    [rsvp] = privacy.export_person(north_person)["events"]["rsvps"]
    assert rsvp["shifts"][0]["label"] == "Early"
    assert rsvp["answers"] == [{"question": "Access needs?", "answer": "Step-free"}]
    person_erase(person=north_person, actor=admin)
    assert not ShiftSignup.objects.exists() and not Answer.objects.exists()
