"""Funnel stages are segment counts: on the story scene and on random seeded worlds,
each stage's count equals the count of the matching segment definition (the
``action_taken`` and ``event`` conditions with the period as their "between" window,
combined with the area condition), compiled through ``clarion.people.segments``."""

from __future__ import annotations

import pytest

from clarion.people.segments.selectors import segment_count
from clarion.reports.funnel import Period, funnel_figures

from . import funnel_scene as scene
from .test_funnel_recount import PERIODS, random_world


def stage_definitions(area, period: Period) -> dict[str, dict]:
    window = {"window": "between", "start": period.start.isoformat(), "end": period.end.isoformat()}
    conditions = {
        "action": {"type": "action_taken", **window},
        "rsvp": {"type": "event", "role": "rsvp", **window},
        "attended": {"type": "event", "role": "attended", **window},
        "returned": {"type": "event", "role": "attended", "at_least": 2, **window},
        "hosted": {"type": "event", "role": "hosted", **window},
    }
    where = [{"type": "area", "area": area.pk}] if area is not None else []
    return {
        stage: {"op": "all", "conditions": [*where, condition]}
        for stage, condition in conditions.items()
    }


def assert_stages_equal_segments(user, area, period: Period) -> dict[str, int]:
    funnel = funnel_figures(user, area, period)
    counts = {s.key: s.count for s in funnel.stages}
    segments = {
        stage: segment_count(user, definition)
        for stage, definition in stage_definitions(area, period).items()
    }
    assert counts == segments, (area, period)
    # Each "of the stage before" figure is the two segments combined.
    definitions = stage_definitions(area, period)
    for before, stage in zip(funnel.stages, funnel.stages[1:], strict=False):
        both = {
            "op": "all",
            "conditions": definitions[before.key]["conditions"]
            + definitions[stage.key]["conditions"][-1:],
        }
        assert stage.from_previous == segment_count(user, both), (area, period, stage.key)
    return counts


def test_story_scene_stages_equal_segment_counts(areas, admin, organiser, south_organiser):
    scene.build(areas)
    period = Period(scene.START, scene.END)
    assert assert_stages_equal_segments(organiser, areas.north, period) == scene.NORTH_COUNTS
    assert assert_stages_equal_segments(south_organiser, areas.south, period) == scene.SOUTH_COUNTS
    assert_stages_equal_segments(admin, None, period)
    assert_stages_equal_segments(admin, areas.leeds_central, period)
    # An organiser's segment over another area counts nobody, and so does the funnel's
    # own scope: the South's people never reach a North organiser's figures.
    south_as_north = stage_definitions(areas.south, period)
    assert all(segment_count(organiser, d) == 0 for d in south_as_north.values())


@pytest.mark.parametrize("seed", [3, 4])
def test_random_worlds_stages_equal_segment_counts(areas, admin, organiser, seed):
    random_world(areas, seed)
    for period in PERIODS:
        assert_stages_equal_segments(admin, None, period)
        assert_stages_equal_segments(admin, areas.south, period)
        assert_stages_equal_segments(organiser, areas.north, period)
