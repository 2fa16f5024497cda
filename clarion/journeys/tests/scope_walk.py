"""Journeys' entries for the scope walk (clarion/core/tests/test_scope_walk.py): a
journey of the South with a to-do about the South person."""

from __future__ import annotations

URL_KWARGS = {
    "journeys_staff:detail": lambda w: {"pk": w.south_journey.pk},
    "journeys_staff:status": lambda w: {"pk": w.south_journey.pk},
    "journeys_staff:steps": lambda w: {"pk": w.south_journey.pk},
    "journeys_staff:duplicate": lambda w: {"pk": w.south_journey.pk},
    "journeys_staff:test": lambda w: {"pk": w.south_journey.pk},
    "journeys_staff:trigger": lambda w: {"pk": w.south_journey.pk},
    "journeys_staff:todo_mark": lambda w: {"pk": w.south_todo.pk},
}


def extend_world(w) -> None:
    from clarion.journeys import engine, services
    from clarion.journeys.models import Todo

    journey = services.journey_create(
        actor=w.south_organiser,
        name="South ladder",
        trigger_type="tag_added",
        trigger_config={"tag": "south-walk"},
        steps=[{"key": "call", "type": "human", "config": {"note": "Phone them"}}],
    )
    w.south_journey = services.journey_set_status(
        journey=journey, actor=w.south_organiser, move="publish"
    )
    services.enrol(journey=w.south_journey, person_id=w.south.pk)
    engine.advance_due()
    w.south_todo = Todo.objects.get(journey=w.south_journey, person=w.south)
