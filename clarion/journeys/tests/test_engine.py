"""The engine: steps run in order, once each, with waits, branches, goals and to-dos."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clarion.core.models import User
from clarion.core.testing import factories
from clarion.journeys import engine, services
from clarion.journeys.models import Enrolment, StepRun, Todo
from clarion.journeys.selectors import step_stats, todos_for
from clarion.people.models import ListMembership, Tag, Tagging
from clarion.people.services import tag_add

from .conftest import make_journey

pytestmark = pytest.mark.django_db


def tags_of(person) -> set[str]:
    return set(Tagging.objects.filter(person=person).values_list("tag__name", flat=True))


def outcomes(person) -> list[tuple[str, str]]:
    return list(
        StepRun.objects.filter(enrolment__person=person)
        .order_by("seq")
        .values_list("step__key", "outcome")
    )


def test_steps_run_in_order_and_a_wait_holds_the_person_until_it_is_over(admin, north_person):
    journey = make_journey(
        admin,
        [
            {"key": "tag", "type": "tag_add", "config": {"tag": "signer"}, "next": "wait"},
            {"key": "wait", "type": "wait", "config": {"days": 2}, "next": "list"},
            {
                "key": "list",
                "type": "list_add",
                "config": {"list": "Donor prospects"},
                "next": "untag",
            },
            {"key": "untag", "type": "tag_remove", "config": {"tag": "signer"}, "next": "end"},
            {"key": "end", "type": "end"},
        ],
    )
    services.enrol(journey=journey, person_id=north_person.pk)
    now = timezone.now()

    assert engine.advance_due(now=now) == 1
    enrolment = Enrolment.objects.get()
    assert enrolment.step.key == "wait" and enrolment.waiting
    assert enrolment.next_run_at == now + timedelta(days=2)
    assert tags_of(north_person) == {"signer"}

    assert engine.advance_due(now=now + timedelta(days=1)) == 0  # not due yet
    assert engine.advance_due(now=now + timedelta(days=2, seconds=1)) == 1

    enrolment.refresh_from_db()
    assert enrolment.state == Enrolment.State.COMPLETED and enrolment.done_at is not None
    assert tags_of(north_person) == set()
    assert ListMembership.objects.filter(person=north_person, list__name="Donor prospects").exists()
    assert outcomes(north_person) == [
        ("tag", "done"),
        ("wait", "waiting"),
        ("wait", "done"),
        ("list", "done"),
        ("untag", "done"),
        ("end", "completed"),
    ]


def test_a_wait_until_a_date_already_past_goes_straight_on(admin, north_person):
    past = (timezone.now() - timedelta(days=1)).isoformat()
    journey = make_journey(
        admin,
        [
            {"key": "wait", "type": "wait", "config": {"until": past}, "next": "tag"},
            {"key": "tag", "type": "tag_add", "config": {"tag": "late"}},
        ],
    )
    services.enrol(journey=journey, person_id=north_person.pk)
    engine.advance_due()
    assert tags_of(north_person) == {"late"}
    assert Enrolment.objects.get().state == Enrolment.State.COMPLETED


def test_a_decision_sends_people_down_yes_or_no_by_a_segment_condition_now(
    admin, areas, north_person, south_person
):
    in_north = {"op": "all", "conditions": [{"type": "area", "area": "R-N"}]}
    journey = make_journey(
        admin,
        [
            {
                "key": "where",
                "type": "decision",
                "config": {"definition": in_north},
                "yes": "n",
                "no": "s",
            },
            {"key": "n", "type": "tag_add", "config": {"tag": "northerner"}},
            {"key": "s", "type": "tag_add", "config": {"tag": "southerner"}},
        ],
    )
    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due()
    assert tags_of(north_person) == {"northerner"}
    assert tags_of(south_person) == {"southerner"}
    stats = {row["step"].key: row for row in step_stats(journey)}
    assert (stats["where"]["entered"], stats["where"]["yes"], stats["where"]["no"]) == (2, 1, 1)


def test_a_random_split_is_roughly_the_percentage_and_the_same_for_a_person_every_time(
    admin, areas
):
    journey = make_journey(
        admin,
        [
            {"key": "ab", "type": "split", "config": {"percent": 30}, "yes": "a", "no": "b"},
            {"key": "a", "type": "tag_add", "config": {"tag": "path-a"}},
            {"key": "b", "type": "tag_add", "config": {"tag": "path-b"}},
        ],
        reentry_allowed=True,
    )
    people = [factories.person() for _ in range(200)]
    for p in people:
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due(batch=500)
    first = {p.pk: tags_of(p) for p in people}
    share = sum(1 for t in first.values() if t == {"path-a"}) / len(people)
    assert 0.18 < share < 0.42
    # Through again: everyone goes the same way.
    Tagging.objects.all().delete()
    for p in people:
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due(batch=500)
    assert {p.pk: tags_of(p) for p in people} == first


def test_reaching_the_goal_at_any_step_leaves_as_converted(admin, north_person):
    donor = Tag.objects.create(name="donor")
    tagged_donor = {
        "op": "all",
        "conditions": [{"type": "tag", "tags": [donor.pk], "match": "any"}],
    }
    journey = make_journey(
        admin,
        [
            {"key": "wait", "type": "wait", "config": {"days": 1}, "next": "ask"},
            {"key": "ask", "type": "tag_add", "config": {"tag": "asked"}, "next": "goal"},
            {"key": "goal", "type": "goal", "config": {"definition": tagged_donor}},
        ],
    )
    services.enrol(journey=journey, person_id=north_person.pk)
    now = timezone.now()
    engine.advance_due(now=now)
    tag_add(person=north_person, tag=donor)  # gives while waiting
    engine.advance_due(now=now + timedelta(days=2))

    enrolment = Enrolment.objects.get()
    assert enrolment.state == Enrolment.State.CONVERTED
    assert "asked" not in tags_of(north_person)
    stats = {row["step"].key: row for row in step_stats(journey)}
    assert stats["goal"]["converted"] == 1


def test_ask_a_human_assigns_the_nearest_organiser_and_shows_on_their_list(
    admin, areas, organiser, south_organiser, north_person
):
    local = factories.staff_user(
        role=User.Role.ORGANISER, area=areas.leeds, email="leeds@example.org"
    )
    journey = make_journey(
        admin,
        [
            {
                "key": "call",
                "type": "human",
                "config": {"note": "Phone about hosting <b>now</b>"},
                "next": "t",
            },
            {"key": "t", "type": "tag_add", "config": {"tag": "after-call"}},
        ],
    )
    services.enrol(journey=journey, person_id=north_person.pk)
    engine.advance_due()

    todo = Todo.objects.get()
    assert todo.assignee == local and todo.person == north_person
    assert list(todos_for(local)) == [todo]
    assert list(todos_for(organiser)) == []  # assigned to someone else
    assert list(todos_for(south_organiser)) == []
    assert tags_of(north_person) == {"after-call"}  # the journey goes on meanwhile

    services.todo_mark(todo=todo, actor=local, status=Todo.Status.NOT_REACHED, note="No answer")
    todo.refresh_from_db()
    assert (todo.status, todo.done_by, todo.outcome_note) == ("not_reached", local, "No answer")
    assert list(todos_for(local)) == []


def test_a_to_do_nobody_can_be_assigned_shows_to_staff_whose_scope_holds_the_person(
    admin, south_organiser, north_person
):
    journey = make_journey(admin, [{"key": "call", "type": "human", "config": {"note": "Call"}}])
    services.enrol(journey=journey, person_id=north_person.pk)
    engine.advance_due()
    todo = Todo.objects.get()
    assert todo.assignee is None
    assert list(todos_for(admin)) == [todo]
    assert list(todos_for(south_organiser)) == []


def test_a_paused_journey_moves_nobody_and_resumes_where_they_were(admin, north_person):
    journey = make_journey(admin, [{"key": "t", "type": "tag_add", "config": {"tag": "x"}}])
    services.enrol(journey=journey, person_id=north_person.pk)
    services.journey_set_status(journey=journey, actor=admin, move="pause")
    assert engine.advance_due() == 0
    services.journey_set_status(journey=journey, actor=admin, move="publish")
    assert engine.advance_due() == 1
    assert tags_of(north_person) == {"x"}


def test_a_step_that_fails_is_rolled_back_alone_and_retried_later(
    admin, north_person, south_person, monkeypatch
):
    journey = make_journey(
        admin,
        [
            {"key": "t", "type": "tag_add", "config": {"tag": "x"}, "next": "l"},
            {"key": "l", "type": "list_add", "config": {"list": "L"}},
        ],
    )
    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    from clarion.journeys import steps

    real = steps.ListAdd.run

    def set_down(self, ctxs):
        raise RuntimeError("list service down for the set")

    def flaky(self, ctx):
        if ctx.person.pk == north_person.pk:
            raise RuntimeError("list service down")
        return real(self, ctx)

    # The set form fails, so the engine goes person by person; only north fails there.
    monkeypatch.setattr(steps.ListAdd, "run_many", set_down)
    monkeypatch.setattr(steps.ListAdd, "run", flaky)
    now = timezone.now()
    engine.advance_due(now=now)

    north = Enrolment.objects.get(person=north_person)
    # The tag step ran and is recorded; the failed list step left no trace.
    assert north.state == "active" and north.step.key == "l" and north.seq == 1
    assert north.next_run_at == now + engine.RETRY_AFTER
    assert tags_of(north_person) == {"x"}
    assert not ListMembership.objects.filter(person=north_person).exists()
    assert Enrolment.objects.get(person=south_person).state == "completed"
    assert ListMembership.objects.filter(person=south_person, list__name="L").exists()

    monkeypatch.undo()
    assert engine.advance_due(now=now + timedelta(minutes=1)) == 0  # not before the retry
    engine.advance_due(now=now + engine.RETRY_AFTER)
    assert ListMembership.objects.filter(person=north_person, list__name="L").exists()
    assert outcomes(north_person) == [("t", "done"), ("l", "done")]


def test_a_failing_step_holds_back_only_its_person_and_not_the_batch(
    admin, north_person, south_person, monkeypatch
):
    journey = make_journey(
        admin,
        [
            {"key": "call", "type": "human", "config": {"note": "Call"}, "next": "t"},
            {"key": "t", "type": "tag_add", "config": {"tag": "called"}},
        ],
    )
    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    from clarion.journeys import steps

    real = steps.AskHuman.run

    def flaky(self, ctx):
        if ctx.person.pk == south_person.pk:
            raise RuntimeError("no organiser list")
        return real(self, ctx)

    monkeypatch.setattr(steps.AskHuman, "run", flaky)
    assert engine.advance_due() == 2
    assert list(Todo.objects.values_list("person_id", flat=True)) == [north_person.pk]
    assert tags_of(north_person) == {"called"} and tags_of(south_person) == set()
    south = Enrolment.objects.get(person=south_person)
    assert (south.state, south.step.key, south.seq) == ("active", "call", 0)


def test_a_batch_moves_a_crowd_set_based_with_a_timeline_entry_each(
    admin, areas, django_assert_max_num_queries
):
    """Many people at the same steps cost a few statements per step, not per person;
    each still gets the tag, the list and the timeline entries."""
    from clarion.people.models import Activity

    in_north = {"op": "all", "conditions": [{"type": "area", "area": "R-N"}]}
    journey = make_journey(
        admin,
        [
            {"key": "t", "type": "tag_add", "config": {"tag": "crowd"}, "next": "where"},
            {
                "key": "where",
                "type": "decision",
                "config": {"definition": in_north},
                "yes": "l",
                "no": "w",
            },
            {"key": "l", "type": "list_add", "config": {"list": "Northerners"}, "next": "w"},
            {"key": "w", "type": "wait", "config": {"hours": 1}, "next": "u"},
            {"key": "u", "type": "tag_remove", "config": {"tag": "crowd"}},
        ],
    )
    north = [factories.person(postcode=areas.postcodes["north"]) for _ in range(30)]
    south = [factories.person(postcode=areas.postcodes["south"]) for _ in range(30)]
    for p in north + south:
        services.enrol(journey=journey, person_id=p.pk)
    now = timezone.now()
    with django_assert_max_num_queries(40):
        assert engine.advance_due(batch=100, now=now) == 60
    assert Tagging.objects.filter(tag__name="crowd").count() == 60
    assert set(StepRun.objects.values_list("created_at", flat=True)) == {now}
    listed = set(
        ListMembership.objects.filter(list__name="Northerners").values_list("person_id", flat=True)
    )
    assert listed == {p.pk for p in north}
    assert Activity.objects.filter(kind="tagged").count() == 60
    assert Activity.objects.filter(kind="listed").count() == 30
    assert set(Enrolment.objects.values_list("step__key", "waiting", "seq")) == {
        ("w", True, 4),
        ("w", True, 3),
    }
    with django_assert_max_num_queries(25):
        assert engine.advance_due(batch=100, now=now + timedelta(hours=1)) == 60
    assert not Tagging.objects.filter(tag__name="crowd").exists()
    assert Activity.objects.filter(kind="untagged").count() == 60
    assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}
    assert outcomes(north[0]) == [
        ("t", "done"),
        ("where", "yes"),
        ("l", "done"),
        ("w", "waiting"),
        ("w", "done"),
        ("u", "done"),
    ]
    assert outcomes(south[0]) == [
        ("t", "done"),
        ("where", "no"),
        ("w", "waiting"),
        ("w", "done"),
        ("u", "done"),
    ]


def test_people_waiting_at_a_step_are_counted_there(admin, north_person, south_person):
    journey = make_journey(
        admin,
        [
            {"key": "wait", "type": "wait", "config": {"hours": 5}, "next": "t"},
            {"key": "t", "type": "tag_add", "config": {"tag": "x"}},
        ],
    )
    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due()
    stats = {row["step"].key: row for row in step_stats(journey)}
    assert (stats["wait"]["entered"], stats["wait"]["waiting"], stats["t"]["entered"]) == (2, 2, 0)


def test_goals_are_checked_for_the_whole_batch_and_the_first_goal_met_wins(admin, areas):
    donor = Tag.objects.create(name="donor")
    member = Tag.objects.create(name="member")

    def has(tag):
        return {"op": "all", "conditions": [{"type": "tag", "tags": [tag.pk], "match": "any"}]}

    journey = make_journey(
        admin,
        [
            {"key": "ask", "type": "tag_add", "config": {"tag": "asked"}, "next": "end"},
            {"key": "gave", "type": "goal", "config": {"definition": has(donor)}},
            {"key": "joined", "type": "goal", "config": {"definition": has(member)}},
            {"key": "end", "type": "end"},
        ],
    )
    people = [factories.person() for _ in range(6)]
    for p in people[:2]:
        tag_add(person=p, tag=donor)
    for p in people[1:4]:
        tag_add(person=p, tag=member)
    for p in people:
        services.enrol(journey=journey, person_id=p.pk)
    assert engine.advance_due() == 6

    assert [outcomes(p) for p in people] == [
        [("gave", "converted")],
        [("gave", "converted")],  # meets both: the first goal counts
        [("joined", "converted")],
        [("joined", "converted")],
        [("ask", "done"), ("end", "completed")],
        [("ask", "done"), ("end", "completed")],
    ]
    assert [Enrolment.objects.get(person=p).state for p in people] == (
        ["converted"] * 4 + ["completed"] * 2
    )
    assert "asked" not in tags_of(people[0])
