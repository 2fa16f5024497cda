"""The funnel on a random mix of people, actions, RSVPs, check-ins and hosted events
(seeded, so a failure repeats): every stage count, "of the stage before" count and
cohort equals a plain recount of the rows in Python, for several periods and areas."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict

import pytest
from django.utils import timezone

from clarion.actions.models import Submission
from clarion.core.testing import factories
from clarion.events.models import Event, Rsvp
from clarion.reports.funnel import STAGES, Period, funnel_figures

from . import funnel_scene as scene

PERIODS = [
    Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30)),
    Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
    Period(dt.date(2025, 10, 1), dt.date(2026, 9, 30)),
    Period(dt.date(2026, 2, 14), dt.date(2026, 2, 14)),
]


def random_world(areas, seed: int) -> None:
    """About 60 people in both regions (and nowhere), 30 events, ~200 activity rows from
    October 2025 to September 2026, at random hours so some fall across midnight."""
    rng = random.Random(seed)
    postcodes = [areas.postcodes[k] for k in ("north", "north2", "south", "south2")] + [None]
    people = [factories.person(postcode=rng.choice(postcodes)) for _ in range(60)]
    first = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)

    def when() -> dt.datetime:
        return first + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))

    event_areas = [areas.leeds_central, areas.bristol_east, areas.north, None]
    events = []
    for _ in range(30):
        status = rng.choice([Event.Status.PUBLISHED] * 4 + [Event.Status.CANCELLED])
        host = rng.choice(people) if rng.random() < 0.4 else None
        events.append(scene.event(rng.choice(event_areas), when(), host=host, status=status))
    pages = [scene.page() for _ in range(4)]
    for _ in range(120):
        person, action_page = rng.choice(people), rng.choice(pages)
        if Submission.objects.filter(page=action_page, person=person).exists():
            continue
        status = rng.choice([Submission.Status.CONFIRMED] * 5 + [Submission.Status.PENDING])
        scene.act(person, when(), action_page=action_page, status=status)
    for _ in range(150):
        person, event = rng.choice(people), rng.choice(events)
        if Rsvp.objects.filter(event=event, person=person).exists():
            continue
        scene.rsvp(
            person,
            event,
            min(when(), event.starts_at),
            status=rng.choice([Rsvp.Status.GOING] * 4 + [Rsvp.Status.WAITLISTED, "cancelled"]),
            attendance=rng.choice(
                [Rsvp.Attendance.ATTENDED] * 2 + [Rsvp.Attendance.NO_SHOW, Rsvp.Attendance.UNKNOWN]
            ),
        )


def recount(area, period: Period) -> tuple[dict[str, set[int]], dict]:
    """Who reached each stage and each cohort, read row by row in Python."""
    since, until = period.since, period.until

    def inside(moment):
        return since <= moment < until

    def in_area(person):
        return area is None or (person.area is not None and person.area.path.startswith(area.path))

    reached: dict[str, set[int]] = defaultdict(set)
    first_action: dict[int, dt.datetime] = {}
    for s in Submission.objects.select_related("person__area"):
        if s.status == "confirmed" and inside(s.created_at) and in_area(s.person):
            reached["action"].add(s.person_id)
            first_action[s.person_id] = min(s.created_at, first_action.get(s.person_id, until))
    attended = Counter()
    for r in Rsvp.objects.select_related("person__area", "event"):
        if not in_area(r.person):
            continue
        if r.status != "cancelled" and inside(r.created_at):
            reached["rsvp"].add(r.person_id)
        if r.attendance == "attended" and inside(r.event.starts_at):
            attended[r.person_id] += 1
    reached["attended"] = set(attended)
    reached["returned"] = {pk for pk, n in attended.items() if n >= 2}
    for e in Event.objects.select_related("host_person__area"):
        if e.host_person and e.status == "published" and inside(e.starts_at):
            if in_area(e.host_person):
                reached["hosted"].add(e.host_person_id)
    cohorts: dict[dt.date, list[int]] = defaultdict(lambda: [0] * len(STAGES))
    for pk, moment in first_action.items():
        month = timezone.localtime(moment).date().replace(day=1)
        for i, stage in enumerate(STAGES):
            cohorts[month][i] += pk in reached[stage]
    return reached, dict(cohorts)


@pytest.mark.parametrize("seed", [1, 2])
def test_funnel_equals_a_plain_recount_of_the_rows(areas, admin, organiser, seed):
    random_world(areas, seed)
    views = [
        (admin, None),
        (admin, areas.south),
        (organiser, areas.north),
        (organiser, areas.leeds),
    ]
    nonzero = Counter()
    for user, area in views:
        for period in PERIODS:
            funnel = funnel_figures(user, area, period)
            reached, cohorts = recount(area, period)
            for i, stage in enumerate(funnel.stages):
                assert stage.count == len(reached[stage.key]), (area, period, stage.key)
                nonzero[stage.key] += stage.count > 0
                if i:
                    both = reached[stage.key] & reached[STAGES[i - 1]]
                    assert stage.from_previous == len(both), (area, period, stage.key)
            got = {c.month: c.counts for c in funnel.cohorts if any(c.counts)}
            assert got == cohorts, (area, period)
    # The random world is varied enough that every stage is reached somewhere.
    assert all(nonzero[stage] for stage in STAGES), nonzero
