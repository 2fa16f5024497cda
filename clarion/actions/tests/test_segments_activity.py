"""Segment conditions "action_taken" and "recruited", and the shared time window:
counts equal a plain recount of the submission rows, window edges in the
organisation's time zone, "at least N", "none of" groups, and bad settings as form
errors and 400 JSON."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.actions.models import ActionPage, Submission
from clarion.core.testing import factories
from clarion.people.models import Person
from clarion.people.segments.compiler import (
    clean_definition,
    describe_tree,
    validate_definition,
)
from clarion.people.segments.registry import SegmentDefinitionError, condition_type
from clarion.people.segments.selectors import segment_count, segment_people
from clarion.people.segments.windows import window_range

LONDON = ZoneInfo("Europe/London")


def _all(*conditions):
    return {"op": "all", "conditions": list(conditions)}


def _none(*conditions):
    return {"op": "not", "conditions": list(conditions)}


def _names(admin, definition) -> set[str]:
    return set(segment_people(admin, definition).values_list("first_name", flat=True))


def _page(slug: str, kind=ActionPage.Kind.PETITION) -> ActionPage:
    return ActionPage.objects.create(
        kind=kind, slug=slug, title=slug.replace("-", " ").title(), status="live"
    )


def _act(person, page, at, status=Submission.Status.CONFIRMED) -> Submission:
    return Submission.objects.create(
        page=page,
        person=person,
        email_canonical=f"{person.pk}-{page.pk}-{at.timestamp()}@example.net",
        email_domain="example.net",
        status=status,
        created_at=at,
    )


def _local(year, month, day, hour=0, minute=0, second=0):
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


@pytest.fixture
def acts(areas):
    library, parks = _page("save-the-library"), _page("save-the-parks")
    pledge = _page("pledge-to-vote", ActionPage.Kind.PLEDGE)
    people = {n: factories.person(first_name=n) for n in ("Ann", "Ben", "Cat", "Dan", "Eve")}
    now = timezone.now()
    # Ann: the library petition 10 days ago, the parks petition 40 days ago.
    _act(people["Ann"], library, now - datetime.timedelta(days=10))
    _act(people["Ann"], parks, now - datetime.timedelta(days=40))
    # Ben: the library petition, but never confirmed; a pledge yesterday.
    _act(people["Ben"], library, now - datetime.timedelta(days=1), Submission.Status.PENDING)
    _act(people["Ben"], pledge, now - datetime.timedelta(days=1))
    # Cat: three actions, the last an invalidated one.
    _act(people["Cat"], library, now - datetime.timedelta(days=100))
    _act(people["Cat"], parks, now - datetime.timedelta(days=2))
    _act(people["Cat"], pledge, now - datetime.timedelta(days=3), Submission.Status.INVALID)
    # Dan: nothing. Eve: signed on the edges of January 2026 (London time, in winter).
    _act(people["Eve"], library, _local(2026, 1, 1, 0, 0, 0))
    _act(people["Eve"], parks, _local(2026, 1, 31, 23, 59, 59))
    return {"pages": {"library": library, "parks": parks, "pledge": pledge}, **people}


def _recount(**filters) -> set[str]:
    rows = Submission.objects.filter(status=Submission.Status.CONFIRMED, **filters)
    return set(
        Person.objects.filter(pk__in=rows.values("person_id")).values_list("first_name", flat=True)
    )


def test_took_any_action_equals_a_recount_of_counted_submissions(acts, admin):
    found = _names(admin, _all({"type": "action_taken"}))
    assert found == _recount() == {"Ann", "Ben", "Cat", "Eve"}


def test_a_given_page_in_the_last_30_days(acts, admin):
    library = acts["pages"]["library"]
    definition = _all(
        {"type": "action_taken", "page": library.pk, "window": "last_days", "days": 30}
    )
    since = timezone.now() - datetime.timedelta(days=30)
    assert _names(admin, definition) == _recount(page=library, created_at__gte=since) == {"Ann"}
    # Ben's pending signature does not count, whatever the window.
    assert "Ben" not in _names(admin, _all({"type": "action_taken", "page": library.pk}))
    # The page may be named by its web address too.
    assert _names(admin, _all({"type": "action_taken", "page": "save-the-library"})) == {
        "Ann",
        "Cat",
        "Eve",
    }


def test_a_kind_of_page(acts, admin):
    assert _names(admin, _all({"type": "action_taken", "kind": "pledge"})) == {"Ben"}
    assert _names(admin, _all({"type": "action_taken", "kind": "petition"})) == {
        "Ann",
        "Cat",
        "Eve",
    }


def test_at_least_counts_each_submission_once(acts, admin):
    twice = _all({"type": "action_taken", "at_least": 2})
    assert _names(admin, twice) == {"Ann", "Cat", "Eve"}  # Cat's invalid third is not one
    assert _names(admin, _all({"type": "action_taken", "at_least": 3})) == set()
    recent_twice = _all({"type": "action_taken", "at_least": 2, "window": "last_days", "days": 50})
    assert _names(admin, recent_twice) == {"Ann"}


def test_between_includes_both_whole_days_in_the_organisation_time_zone(acts, admin):
    def between(start, end):
        return _names(
            admin, _all({"type": "action_taken", "window": "between", "start": start, "end": end})
        )

    assert between("2026-01-01", "2026-01-31") == {"Eve"}
    assert between("2026-01-01", "2026-01-01") == {"Eve"}  # 00:00:00 on the first day
    assert between("2026-01-31", "2026-01-31") == {"Eve"}  # 23:59:59 on the last day
    assert between("2026-01-02", "2026-01-30") == set()
    assert between("2025-12-01", "2025-12-31") == set()
    assert between("2026-02-01", "2026-02-28") == set()
    eve = acts["Eve"]
    assert segment_count(
        admin,
        _all(
            {
                "type": "action_taken",
                "window": "between",
                "start": "2026-01-01",
                "end": "2026-01-31",
                "at_least": 2,
            }
        ),
    ) == 1 and eve.first_name in between("2026-01-01", "2026-01-31")


def test_window_range_uses_local_midnights_across_summer_time():
    since, until = window_range(
        {"window": "between", "start": datetime.date(2026, 7, 1), "end": datetime.date(2026, 7, 1)}
    )
    # Midnight in London in July is 23:00 UTC the day before.
    assert since == datetime.datetime(2026, 6, 30, 23, tzinfo=datetime.UTC)
    assert until == datetime.datetime(2026, 7, 1, 23, tzinfo=datetime.UTC)
    now = timezone.now()
    since, until = window_range({"window": "last_days", "days": 7}, now=now)
    assert since == now - datetime.timedelta(days=7) and until is None
    assert window_range({"window": "ever"}) == (None, None)


def test_last_days_edge(areas, admin):
    page = _page("edge")
    inside, outside = factories.person(first_name="In"), factories.person(first_name="Out")
    now = timezone.now()
    _act(inside, page, now - datetime.timedelta(days=7) + datetime.timedelta(minutes=5))
    _act(outside, page, now - datetime.timedelta(days=7) - datetime.timedelta(minutes=5))
    assert _names(admin, _all({"type": "action_taken", "window": "last_days", "days": 7})) == {"In"}


def test_none_of_keeps_everyone_else(acts, admin):
    library = acts["pages"]["library"]
    definition = _none({"type": "action_taken", "page": library.pk})
    assert _names(admin, definition) == {"Ben", "Dan"}
    everyone = Person.objects.count()
    took = segment_count(admin, _all({"type": "action_taken", "page": library.pk}))
    assert segment_count(admin, definition) == everyone - took


def test_signed_the_library_petition_and_not_the_parks_one(acts, admin):
    library, parks = acts["pages"]["library"], acts["pages"]["parks"]
    definition = _all(
        {"type": "action_taken", "page": library.pk},
        _none({"type": "action_taken", "page": parks.pk, "window": "last_days", "days": 30}),
    )
    assert _names(admin, definition) == {"Ann", "Eve"}  # Cat signed the parks one 2 days ago


def test_an_organiser_counts_only_their_area(areas, organiser, admin):
    page = _page("local")
    north = factories.person(first_name="Nora", postcode=areas.postcodes["north"])
    south = factories.person(first_name="Sid", postcode=areas.postcodes["south"])
    for person in (north, south):
        _act(person, page, timezone.now())
    assert segment_count(admin, _all({"type": "action_taken", "page": page.pk})) == 2
    assert segment_count(organiser, _all({"type": "action_taken", "page": page.pk})) == 1


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"window": "last_days"}, "Enter a number of days"),
        ({"window": "last_days", "days": -3}, "greater than or equal to 1"),
        ({"window": "last_days", "days": 0}, "greater than or equal to 1"),
        ({"window": "between", "start": "2026-02-01", "end": "2026-01-01"}, "must not be before"),
        ({"window": "between", "start": "2026-02-01"}, "Enter the last day"),
        ({"window": "between", "start": "not a date", "end": "2026-01-01"}, "valid date"),
        ({"window": "between", "start": "1066-10-14", "end": "2026-01-01"}, "between 1900"),
        ({"window": "sometimes"}, "Select a valid choice"),
        ({"page": 987654321}, "There is no action page with that id"),
        ({"page": "no-such-page"}, "There is no action page with that id"),
        ({"page": [1, 2]}, "There is no action page with that id"),
        ({"kind": "donation"}, "Select a valid choice"),
        ({"at_least": 0}, "greater than or equal to 1"),
        ({"at_least": "lots"}, "Enter a whole number"),
        ({"colour": "red"}, "unknown settings"),
    ],
)
def test_bad_settings_are_clear_errors(acts, settings, message):
    with pytest.raises(SegmentDefinitionError) as caught:
        validate_definition(_all({"type": "action_taken", **settings}))
    assert any(message in m for m in caught.value.messages), caught.value.messages


def test_a_page_of_another_kind_is_an_error(acts):
    with pytest.raises(SegmentDefinitionError) as caught:
        validate_definition(
            _all({"type": "action_taken", "kind": "pledge", "page": acts["pages"]["library"].pk})
        )
    assert "is not a pledge" in " ".join(caught.value.messages)


def test_definitions_are_stored_lean_and_described(acts):
    library = acts["pages"]["library"]
    stored = validate_definition(
        _all(
            {
                "type": "action_taken",
                "page": "save-the-library",
                "window": "last_days",
                "days": "30",
                "start": "2026-01-01",
            },
            {
                "type": "recruited",
                "at_least": 3,
                "window": "between",
                "start": "2026-01-01",
                "end": "2026-03-31",
            },
        )
    )
    assert stored == _all(
        {"type": "action_taken", "page": library.pk, "window": "last_days", "days": 30},
        {
            "type": "recruited",
            "at_least": 3,
            "window": "between",
            "start": "2026-01-01",
            "end": "2026-03-31",
        },
    )
    assert validate_definition(stored) == stored
    texts = [c["text"] for c in describe_tree(clean_definition(stored))[0]["children"]]
    assert texts == [
        "Took action on “Save The Library” in the last 30 days",
        "Recruited at least 3 people between 2026-01-01 and 2026-03-31",
    ]


def test_recruited_counts_people_brought_in_within_the_window(areas, admin):
    ann, ben, cat = (factories.person(first_name=n) for n in ("Ann", "Ben", "Cat"))
    now = timezone.now()
    for i, (recruiter, days) in enumerate([(ann, 1), (ann, 5), (ann, 60), (ben, 2)]):
        recruit = factories.person(first_name=f"Recruit{i}")
        Person.objects.filter(pk=recruit.pk).update(
            recruiter=recruiter, created_at=now - datetime.timedelta(days=days)
        )

    def names(**settings):
        return _names(admin, _all({"type": "recruited", **settings}))

    assert names() == {"Ann", "Ben"}
    assert names(at_least=3) == {"Ann"}
    assert names(at_least=2, window="last_days", days=30) == {"Ann"}
    assert names(at_least=3, window="last_days", days=30) == set()
    recount = set(
        Person.objects.filter(
            pk__in=Person.objects.filter(recruiter__isnull=False).values("recruiter")
        ).values_list("first_name", flat=True)
    )
    assert names() == recount
    assert "Cat" in _names(admin, _none({"type": "recruited"}))
    assert "Ann" not in _names(admin, _none({"type": "recruited"}))


def test_the_builder_counts_and_shows_errors_next_to_the_row(acts, admin_client):
    url = reverse("people:segment_new")
    data = {
        "name": "Library signers",
        "g0-op": "all",
        "node": ["r1"],
        "r1-type": "action_taken",
        "r1-group": "g0",
        "r1-page": str(acts["pages"]["library"].pk),
        "r1-window": "last_days",
        "r1-days": "30",
        "action": "count",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "1 person" in response.content.decode()
    response = admin_client.post(url, {**data, "r1-days": "-4"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Some conditions need fixing" in page and "greater than or equal to 1" in page
    # A fresh row of every new type renders in the builder.
    for kind in ("action_taken", "recruited"):
        page = admin_client.post(
            url, {"g0-op": "all", "action": "add:g0", "add-type-g0": kind}
        ).content.decode()
        assert 'name="r1-window"' in page and 'name="r1-at_least"' in page


def test_the_live_count_answers_400_json_for_bad_settings(acts, admin_client):
    url = reverse("people:segment_count")
    base = {"g0-op": "all", "node": ["r1"], "r1-type": "action_taken", "r1-group": "g0"}
    ok = admin_client.post(url, {**base, "r1-kind": "pledge"})
    assert ok.status_code == 200 and ok.json()["count"] == 1
    for bad in (
        {"r1-window": "between", "r1-start": "2026-03-01", "r1-end": "2026-02-01"},
        {"r1-window": "last_days", "r1-days": "-1"},
        {"r1-page": "999999"},
    ):
        response = admin_client.post(url, {**base, **bad})
        assert response.status_code == 400 and response["Content-Type"] == "application/json"
        assert response.json()["errors"], bad


def test_types_are_registered_by_their_apps():
    assert condition_type("action_taken").__module__ == "clarion.actions.segments"
    assert condition_type("recruited").__module__ == "clarion.actions.segments"
