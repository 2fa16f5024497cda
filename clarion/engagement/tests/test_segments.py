"""The score and ladder level segment conditions, compared with the scores read back."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clarion.core.testing import factories
from clarion.engagement.models import EngagementScore
from clarion.engagement.selectors import person_engagement
from clarion.people.segments.compiler import validate_definition
from clarion.people.segments.selectors import segment_count, segment_people


def _score(definition_conditions, admin, op="all"):
    definition = {"op": op, "conditions": definition_conditions}
    return set(segment_people(admin, definition).values_list("pk", flat=True))


@pytest.fixture
def ladder(entry, areas):
    """Nobody (no points), a supporter (3), an activist (~15, decayed from older
    points) and a volunteer (45)."""
    EngagementScore.objects.all().delete()
    people = {}
    for name in ("none", "supporter", "activist", "volunteer"):
        people[name] = factories.person(first_name=name.title(), postcode=areas.postcodes["north"])
    EngagementScore.objects.all().delete()
    entry(people["supporter"], "action", {"status": "confirmed"})
    entry(people["activist"], "event", {"event": 1, "rsvp": 1, "attendance": "attended"}, days=1)
    entry(people["activist"], "event", {"event": 1}, days=240)  # 30 points, two half-lives
    entry(people["volunteer"], "event", {"event": 2}, days=0)
    entry(people["volunteer"], "event", {"event": 2, "rsvp": 9, "attendance": "attended"})
    return people


@pytest.mark.django_db
def test_score_range_counts_what_the_person_page_shows(ladder, admin):
    scores = {name: (person_engagement(p) or {"score": 0})["score"] for name, p in ladder.items()}
    assert scores["activist"] == pytest.approx(15 * 2 ** (-1 / 120) + 7.5, rel=1e-3)
    for low, high in [(None, 0), (0, None), (1, 10), (2.5, 3.5), (10, 40), (20, None), (None, 100)]:
        params = {"type": "score"}
        if low is not None:
            params["minimum"] = low
        if high is not None:
            params["maximum"] = high
        expected = {
            ladder[name].pk
            for name, value in scores.items()
            if (low is None or value >= low - 1e-6) and (high is None or value <= high + 1e-6)
        }
        assert _score([params], admin) == expected, (low, high)
        assert segment_count(admin, {"op": "all", "conditions": [params]}) == len(expected)


@pytest.mark.django_db
def test_score_inside_none_of_keeps_people_without_points(ladder, admin):
    got = _score([{"op": "not", "conditions": [{"type": "score", "minimum": 10}]}], admin)
    assert ladder["none"].pk in got
    assert ladder["supporter"].pk in got
    assert ladder["activist"].pk not in got and ladder["volunteer"].pk not in got
    at_most = _score([{"op": "not", "conditions": [{"type": "score", "maximum": 5}]}], admin)
    assert at_most == {ladder["activist"].pk, ladder["volunteer"].pk}


@pytest.mark.django_db
def test_ladder_level_at_least_and_exactly(ladder, admin):
    def level(name, match):
        return _score([{"type": "ladder_level", "level": name, "match": match}], admin)

    everyone = {p.pk for p in ladder.values()}
    assert everyone <= level("supporter", "at_least")
    assert level("activist", "at_least") == {ladder["activist"].pk, ladder["volunteer"].pk}
    assert level("activist", "exactly") == {ladder["activist"].pk}
    assert level("volunteer", "exactly") == {ladder["volunteer"].pk}
    assert level("leader", "at_least") == set()
    none_of = _score(
        [{"op": "not", "conditions": [{"type": "ladder_level", "level": "activist"}]}], admin
    )
    assert ladder["none"].pk in none_of and ladder["supporter"].pk in none_of
    assert ladder["activist"].pk not in none_of


@pytest.mark.django_db
def test_score_segment_is_scoped_to_the_organiser(ladder, organiser, south_organiser):
    condition = [{"type": "score", "minimum": 1}]
    assert _score(condition, organiser) == {
        ladder[n].pk for n in ("supporter", "activist", "volunteer")
    }
    assert _score(condition, south_organiser) == set()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"type": "score"},
        {"type": "score", "minimum": -1},
        {"type": "score", "minimum": "lots"},
        {"type": "score", "minimum": 10, "maximum": 5},
        {"type": "ladder_level", "level": "emperor"},
        {"type": "ladder_level", "level": "activist", "match": "sideways"},
    ],
)
def test_bad_conditions_are_definition_errors(params, areas):
    with pytest.raises(ValidationError):
        validate_definition({"op": "all", "conditions": [params]})
