"""More triggers: joined a list (a timeline entry), and the scheduled ones — did not
come to an event, clicked a given mailing, entered a segment — which the clock runs
(``triggers.poll_all``). Each costs no query when no published journey listens."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, checkin_mark, event_save, rsvp_create
from clarion.journeys import engine, services, triggers
from clarion.journeys.models import Enrolment, Journey
from clarion.people.models import PersonList, Tag
from clarion.people.services import activity_record, list_add, tag_add, tag_remove

from .conftest import email_config, make_journey

pytestmark = pytest.mark.django_db

END = [{"key": "end", "type": "end"}]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def enrolled(journey) -> list[str]:
    return sorted(Enrolment.objects.filter(journey=journey).values_list("person__email", flat=True))


def test_joining_a_list_enters_only_people_added_to_that_list(
    admin, north_person, south_person, capture
):
    journey = make_journey(admin, END, trigger="listed", trigger_config={"list": "Volunteers"})
    volunteers = PersonList.objects.create(name="volunteers")
    donors = PersonList.objects.create(name="Donors")
    with capture():
        list_add(person=north_person, plist=volunteers)
        list_add(person=south_person, plist=donors)
    assert enrolled(journey) == ["nora@example.net"]


def test_a_list_trigger_needs_a_list_name(admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        make_journey(admin, END, trigger="listed", trigger_config={})
    assert "List" in " ".join(exc.value.messages)
    assert not Journey.objects.exists()


@pytest.fixture
def meeting(areas):
    start = (timezone.now() + datetime.timedelta(days=1)).replace(microsecond=0)
    return event_save(
        event=Event(
            area=areas.leeds_central,
            postcode="LS1 4AP",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            title="Branch meeting",
            kind=Event.Kind.MEETING,
            venue="Library",
            capacity=10,
        )
    )


def test_no_show_enters_people_who_rsvpd_and_did_not_come_once_per_rsvp(admin, meeting):
    journey = make_journey(
        admin, END, trigger="no_show", trigger_config={"event": meeting.pk}, reentry_allowed=True
    )
    for email in ("ann@example.net", "bob@example.net", "cat@example.net"):
        rsvp_create(event=meeting, data=RsvpInput(email=email, first_name=email[:3]))
    checkin_mark(rsvp=Rsvp.objects.get(person__email="ann@example.net"), attendance="attended")
    cat = Rsvp.objects.get(person__email="cat@example.net")
    Rsvp.objects.filter(pk=cat.pk).update(status=Rsvp.Status.CANCELLED)

    assert triggers.poll_all(now=meeting.ends_at - datetime.timedelta(minutes=5)) == 0
    # Two hours after the end (time for late check-ins) bob is entered, ann (came) and
    # cat (cancelled) are not.
    assert triggers.poll_all(now=meeting.ends_at + datetime.timedelta(hours=1)) == 0
    later = meeting.ends_at + datetime.timedelta(hours=2, minutes=1)
    assert triggers.poll_all(now=later) == 1
    assert enrolled(journey) == ["bob@example.net"]
    source = Enrolment.objects.get(journey=journey).source
    assert source["trigger"] == "no_show" and source["event"] == meeting.pk
    # He finishes the journey; re-entry is allowed, yet the same RSVP never enters
    # him again.
    engine.advance_due(now=later)
    assert Enrolment.objects.get(journey=journey).state == Enrolment.State.COMPLETED
    assert triggers.poll_all(now=later + datetime.timedelta(days=1)) == 0
    assert Enrolment.objects.filter(journey=journey).count() == 1


def test_no_show_ignores_events_that_ended_before_the_journey_was_published(admin, meeting):
    Event.objects.filter(pk=meeting.pk).update(
        starts_at=timezone.now() - datetime.timedelta(days=2),
        ends_at=timezone.now() - datetime.timedelta(days=2) + datetime.timedelta(hours=2),
    )
    Rsvp.objects.create(event=meeting, person=_person("old@example.net"))
    journey = make_journey(admin, END, trigger="no_show", trigger_config={})
    assert triggers.poll_all(now=timezone.now() + datetime.timedelta(hours=3)) == 0
    assert enrolled(journey) == []


def _person(email):
    from clarion.core.testing import factories

    return factories.person(email=email)


def test_a_click_in_the_given_mailing_enters_the_person_once_machines_do_not(
    admin, nora, sid, mail_settings, from_addresses
):
    from clarion.mailings.models import Link, Recipient
    from clarion.mailings.services import click_record

    source = make_journey(
        admin,
        [{"key": "hello", "type": "email", "config": email_config()}],
        name="Thanks",
    )
    for p in (nora, sid):
        services.enrol(journey=source, person_id=p.pk)
    engine.advance_due()
    mailing_id = source.steps.get(key="hello").mailing_id
    clicked = make_journey(
        admin,
        END,
        trigger="clicked",
        trigger_config={"mailing": mailing_id},
        reentry_allowed=True,
        name="Clicked",
    )
    link = Link.objects.get(mailing_id=mailing_id, index=0)
    human = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    nora_r = Recipient.objects.get(mailing_id=mailing_id, person=nora)
    click_record(recipient=nora_r, link=link, user_agent=human)
    click_record(recipient=nora_r, link=link, user_agent=human)
    sid_r = Recipient.objects.get(mailing_id=mailing_id, person=sid)
    click_record(recipient=sid_r, link=link, user_agent="Mozilla/5.0")  # a proxy's fetch

    soon = timezone.now() + datetime.timedelta(minutes=1)
    assert triggers.poll_all(now=soon) == 1
    assert enrolled(clicked) == ["nora@example.net"]
    engine.advance_due(now=soon)
    # The same clicks are not considered again, even with re-entry allowed.
    assert triggers.poll_all(now=soon + datetime.timedelta(minutes=5)) == 0
    assert Enrolment.objects.filter(journey=clicked).count() == 1


def test_a_click_trigger_needs_a_mailing_id(admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        make_journey(admin, END, trigger="clicked", trigger_config={"mailing": "x"})


def _vip_definition():
    vip, _ = Tag.objects.get_or_create(name="vip")
    return {"op": "all", "conditions": [{"type": "tag", "tags": [vip.pk], "match": "any"}]}


@pytest.mark.parametrize("reentry", [False, True])
def test_entering_a_segment_enters_once_unless_re_entry_is_allowed(
    admin, north_person, south_person, reentry
):
    definition = _vip_definition()
    journey = make_journey(
        admin,
        END,
        trigger="segment",
        trigger_config={"definition": definition},
        reentry_allowed=reentry,
    )
    tag_add(person=north_person, tag="vip")
    assert triggers.poll_all() == 1
    assert enrolled(journey) == ["nora@example.net"]
    engine.advance_due()
    # Still in the segment: not entered again at the next check.
    assert triggers.poll_all() == 0
    # Sid comes in; Nora leaves and comes back.
    tag_add(person=south_person, tag="vip")
    tag_remove(person=north_person, tag=Tag.objects.get(name="vip"))
    assert triggers.poll_all() == 1
    tag_add(person=north_person, tag="vip")
    engine.advance_due()
    assert triggers.poll_all() == (1 if reentry else 0)
    expected = ["nora@example.net", "sid@example.net"]
    if reentry:
        expected = ["nora@example.net", "nora@example.net", "sid@example.net"]
    assert enrolled(journey) == expected


def test_a_paused_scheduled_journey_enters_nobody(admin, north_person):
    journey = make_journey(
        admin, END, trigger="segment", trigger_config={"definition": _vip_definition()}
    )
    services.journey_set_status(journey=journey, actor=admin, move="pause")
    tag_add(person=north_person, tag="vip")
    assert triggers.poll_all() == 0
    assert enrolled(journey) == []


# --- nothing listens, nothing is queried ---------------------------------------------


def test_a_timeline_entry_no_published_journey_listens_to_costs_no_query(
    admin, north_person, django_assert_num_queries
):
    from clarion.people.models import Activity

    # A draft and a paused journey listen to tags; neither is published.
    make_journey(admin, END, publish=False, trigger_config={"tag": "a"})
    paused = make_journey(admin, END, trigger_config={"tag": "b"}, name="Paused")
    services.journey_set_status(journey=paused, actor=admin, move="pause")
    entry = activity_record(
        person=north_person, kind=Activity.Kind.TAGGED, summary="Tagged", data={"tag": 1}
    )
    triggers.listener(entry)  # learns that nothing listens
    with django_assert_num_queries(0):
        for _ in range(3):
            triggers.listener(entry)
        assert triggers.poll_all() == 0


def test_publishing_a_journey_makes_its_kind_heard_at_once(admin, north_person, capture):
    from clarion.people.models import Activity

    entry = activity_record(
        person=north_person, kind=Activity.Kind.TAGGED, summary="Tagged", data={"tag": 1}
    )
    triggers.listener(entry)  # nothing listens yet (and that is remembered)
    journey = make_journey(admin, END, trigger_config={"tag": "v"})
    with capture():
        tag_add(person=north_person, tag="v")
    assert enrolled(journey) == ["nora@example.net"]
    services.journey_set_status(journey=journey, actor=admin, move="archive")
    assert "tag_added" not in triggers.listened()
