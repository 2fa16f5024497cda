"""Segment condition "event": RSVP'd, attended, no-show and hosted, equal to a plain
recount of the RSVP and event rows; cancelled RSVPs, future events, windows on the
event's start, "at least N", "none of" groups and bad settings."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.core.testing import factories
from clarion.events.models import Event, Rsvp
from clarion.events.tests.conftest import make_event
from clarion.people.models import Person
from clarion.people.segments.compiler import clean_definition, describe_tree, validate_definition
from clarion.people.segments.registry import SegmentDefinitionError
from clarion.people.segments.selectors import segment_count, segment_people

G, W, C = Rsvp.Status.GOING, Rsvp.Status.WAITLISTED, Rsvp.Status.CANCELLED
ATT, NS, UNK = Rsvp.Attendance.ATTENDED, Rsvp.Attendance.NO_SHOW, Rsvp.Attendance.UNKNOWN


def _all(*conditions):
    return {"op": "all", "conditions": list(conditions)}


def _names(admin, definition) -> set[str]:
    return set(segment_people(admin, definition).values_list("first_name", flat=True))


def _rsvp(event, person, status=G, attendance=UNK) -> Rsvp:
    return Rsvp.objects.create(event=event, person=person, status=status, attendance=attendance)


@pytest.fixture
def scene(areas):
    now = timezone.now()
    people = {n: factories.person(first_name=n) for n in ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay")}
    past_canvass = make_event(area=areas.leeds_central, days=-20, kind=Event.Kind.CANVASS)
    past_social = make_event(area=areas.leeds_central, days=-5, kind=Event.Kind.SOCIAL)
    old_meeting = make_event(area=areas.leeds_central, days=-200, kind=Event.Kind.MEETING)
    future = make_event(area=areas.leeds_central, days=10, kind=Event.Kind.CANVASS)
    # Under way: started an hour ago, ends in an hour.
    running = make_event(
        area=areas.leeds_central,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(hours=1),
        kind=Event.Kind.MEETING,
    )
    called_off = make_event(area=areas.leeds_central, days=-3, kind=Event.Kind.RALLY)
    Event.objects.filter(pk=called_off.pk).update(status=Event.Status.CANCELLED)
    # Ann attended two canvasses and a meeting long ago.
    _rsvp(past_canvass, people["Ann"], G, ATT)
    _rsvp(past_social, people["Ann"], G, ATT)
    _rsvp(old_meeting, people["Ann"], G, ATT)
    # Ben RSVP'd to the past canvass and never came (not checked in), marked no-show
    # at the social; going to the future one.
    _rsvp(past_canvass, people["Ben"], G, UNK)
    _rsvp(past_social, people["Ben"], G, NS)
    _rsvp(future, people["Ben"], G)
    # Cat cancelled her RSVP to the past canvass, is waiting for the future one, and
    # is going to the one under way (not checked in yet).
    _rsvp(past_canvass, people["Cat"], C)
    _rsvp(future, people["Cat"], W)
    _rsvp(running, people["Cat"], G)
    # Dan RSVP'd to the event that was called off.
    _rsvp(called_off, people["Dan"], G)
    # Eve hosts: a published event last week, a proposed one, and a cancelled one.
    hosted = make_event(area=areas.leeds_central, days=-7, kind=Event.Kind.SOCIAL)
    Event.objects.filter(pk=hosted.pk).update(host_person=people["Eve"])
    proposed = make_event(area=areas.leeds_central, days=14)
    Event.objects.filter(pk=proposed.pk).update(
        host_person=people["Eve"], status=Event.Status.PROPOSED
    )
    Event.objects.filter(pk=called_off.pk).update(host_person=people["Fay"])
    return {
        **people,
        "past_canvass": past_canvass,
        "past_social": past_social,
        "future": future,
        "running": running,
        "called_off": called_off,
        "hosted": hosted,
    }


def _people(rsvps) -> set[str]:
    return set(
        Person.objects.filter(pk__in=rsvps.values("person_id")).values_list("first_name", flat=True)
    )


def test_rsvp_leaves_out_cancelled_rsvps(scene, admin):
    found = _names(admin, _all({"type": "event", "role": "rsvp"}))
    assert found == _people(Rsvp.objects.exclude(status=C)) == {"Ann", "Ben", "Cat", "Dan"}
    assert _names(
        admin, _all({"type": "event", "role": "rsvp", "event": scene["past_canvass"].pk})
    ) == {
        "Ann",
        "Ben",
    }


def test_attended_counts_check_ins_only(scene, admin):
    found = _names(admin, _all({"type": "event", "role": "attended"}))
    assert found == _people(Rsvp.objects.filter(attendance=ATT)) == {"Ann"}


def test_no_show_needs_an_ended_event_and_no_check_in(scene, admin):
    found = _names(admin, _all({"type": "event", "role": "no_show"}))
    # Ben: never checked in at one and marked no-show at another. Cat's event is still
    # under way, her future RSVP is on the waiting list, and Dan's event was called off.
    assert found == {"Ben"}
    assert segment_count(admin, _all({"type": "event", "role": "no_show", "at_least": 2})) == 1
    assert _names(admin, _all({"type": "event", "role": "no_show", "kind": "social"})) == {"Ben"}


def test_hosted_counts_published_events_of_member_hosts(scene, admin):
    assert _names(admin, _all({"type": "event", "role": "hosted"})) == {"Eve"}
    recount = set(
        Person.objects.filter(
            pk__in=Event.objects.filter(
                status=Event.Status.PUBLISHED, host_person__isnull=False
            ).values("host_person_id")
        ).values_list("first_name", flat=True)
    )
    assert recount == {"Eve"}
    in_week = {"type": "event", "role": "hosted", "window": "last_days", "days": 8}
    assert _names(admin, _all(in_week)) == {"Eve"}
    assert _names(admin, _all({**in_week, "days": 6})) == set()


def test_windows_are_on_the_event_start(scene, admin):
    def names(**settings):
        return _names(admin, _all({"type": "event", "role": "attended", **settings}))

    assert names(window="last_days", days=30) == {"Ann"}
    assert segment_count(admin, _all({"type": "event", "role": "attended", "at_least": 3})) == 1
    assert names(at_least=3, window="last_days", days=30) == set()
    assert names(at_least=2, window="last_days", days=30) == {"Ann"}
    day = timezone.localtime(scene["past_social"].starts_at).date()
    assert names(window="between", start=day.isoformat(), end=day.isoformat()) == {"Ann"}
    next_day = (day + datetime.timedelta(days=1)).isoformat()
    assert names(window="between", start=next_day, end=next_day) == set()


def test_the_rsvp_window_is_on_when_the_rsvp_was_made(scene, admin):
    # Times in UTC: Ann RSVP'd at 00:00 on 2 March 2026 (GMT, so London midnight), Ben
    # at 23:59:59 London time on 31 March (BST from 29 March) and at 00:00 on 1 April.
    utc = datetime.UTC
    made = {
        ("past_canvass", "Ann"): datetime.datetime(2026, 3, 2, 0, 0, 0, tzinfo=utc),
        ("past_canvass", "Ben"): datetime.datetime(2026, 3, 31, 22, 59, 59, tzinfo=utc),
        ("past_social", "Ben"): datetime.datetime(2026, 3, 31, 23, 0, 0, tzinfo=utc),
    }
    Rsvp.objects.update(created_at=timezone.now() - datetime.timedelta(days=400))
    for (event, name), at in made.items():
        Rsvp.objects.filter(event=scene[event], person=scene[name]).update(created_at=at)

    def names(start, end, **extra):
        rsvp = {"type": "event", "role": "rsvp", "window": "between", "start": start, "end": end}
        return _names(admin, _all({**rsvp, **extra}))

    # 31 March 22:59:59 UTC is 23:59:59 in London (BST from 29 March); 23:00 UTC is
    # already 1 April.
    assert names("2026-03-02", "2026-03-31") == {"Ann", "Ben"}
    assert names("2026-03-03", "2026-03-31") == {"Ben"}
    assert names("2026-03-01", "2026-03-01") == set()
    assert names("2026-04-01", "2026-04-01") == {"Ben"}
    assert names("2026-03-01", "2026-04-30", at_least=2) == {"Ben"}
    recount = _people(
        Rsvp.objects.exclude(status=C).filter(
            created_at__gte=datetime.datetime(2026, 3, 2, tzinfo=utc),
            created_at__lt=datetime.datetime(2026, 3, 31, 23, tzinfo=utc),
        )
    )
    assert names("2026-03-02", "2026-03-31") == recount


def test_kind_narrows_to_events_of_that_kind(scene, admin):
    assert _names(admin, _all({"type": "event", "role": "attended", "kind": "meeting"})) == {"Ann"}
    assert _names(admin, _all({"type": "event", "role": "rsvp", "kind": "rally"})) == {"Dan"}
    assert _names(admin, _all({"type": "event", "role": "rsvp", "kind": "fundraiser"})) == set()


def test_none_of_groups(scene, admin):
    never_attended = {"op": "not", "conditions": [{"type": "event", "role": "attended"}]}
    assert _names(admin, _all(never_attended)) == {"Ben", "Cat", "Dan", "Eve", "Fay"}
    rsvpd_not_attended = _all({"type": "event", "role": "rsvp"}, never_attended)
    assert _names(admin, rsvpd_not_attended) == {"Ben", "Cat", "Dan"}
    total = Person.objects.count()
    for role in ("rsvp", "attended", "no_show", "hosted"):
        yes = segment_count(admin, _all({"type": "event", "role": role}))
        no = segment_count(admin, {"op": "not", "conditions": [{"type": "event", "role": role}]})
        assert yes + no == total, role


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"role": "lurked"}, "Select a valid choice"),
        ({}, "This field is required"),
        ({"role": "rsvp", "event": 987654321}, "There is no event with that id"),
        ({"role": "rsvp", "kind": "picnic"}, "Select a valid choice"),
        ({"role": "rsvp", "window": "last_days", "days": -1}, "greater than or equal to 1"),
        (
            {"role": "rsvp", "window": "between", "start": "2026-05-02", "end": "2026-05-01"},
            "must not be before",
        ),
        ({"role": "rsvp", "at_least": -2}, "greater than or equal to 1"),
    ],
)
def test_bad_settings_are_clear_errors(scene, settings, message):
    with pytest.raises(SegmentDefinitionError) as caught:
        validate_definition(_all({"type": "event", **settings}))
    assert any(message in m for m in caught.value.messages), caught.value.messages


def test_an_event_of_another_kind_is_an_error(scene):
    with pytest.raises(SegmentDefinitionError) as caught:
        validate_definition(
            _all({"type": "event", "role": "rsvp", "kind": "rally", "event": scene["future"].pk})
        )
    assert "is not a rally" in " ".join(caught.value.messages)


def test_described_for_the_segment_page(scene):
    stored = validate_definition(
        _all(
            {"type": "event", "role": "attended", "at_least": 2, "window": "last_days", "days": 90},
            {"type": "event", "role": "hosted", "event": scene["hosted"].pk},
            {"type": "event", "role": "no_show", "kind": "canvass"},
        )
    )
    assert stored["conditions"][1] == {
        "type": "event",
        "role": "hosted",
        "event": scene["hosted"].pk,
        "window": "ever",
    }
    texts = [c["text"] for c in describe_tree(clean_definition(stored))[0]["children"]]
    assert texts[0] == "Attended at least 2 events in the last 90 days"
    assert texts[1] == f"Hosted “{scene['hosted'].title}”"
    assert texts[2] == "Did not turn up to (no-show) a canvass"


def test_the_live_count_answers_400_json_for_an_unknown_role(scene, admin_client):
    url = reverse("people:segment_count")
    base = {"g0-op": "all", "node": ["r1"], "r1-type": "event", "r1-group": "g0"}
    ok = admin_client.post(url, {**base, "r1-role": "no_show"})
    assert ok.status_code == 200 and ok.json()["count"] == 1
    bad = admin_client.post(url, {**base, "r1-role": "lurked"})
    assert bad.status_code == 400 and bad.json()["errors"]
