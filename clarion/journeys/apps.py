from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Journeys: automation that moves each supporter up the ladder of engagement
    (triggers, emails through the mailing ledger, waits, decisions, tags, and a to-do
    for a human organiser). It uses mailings and segments, so it sits above them."""

    name = "clarion.journeys"
    label = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from datetime import timedelta

        from clarion.core import schedule
        from clarion.people.services import activity_listeners

        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            segments,  # noqa: F401  (the "journey" segment condition)
        )
        from .tasks import journeys_advance, journeys_poll_triggers
        from .triggers import listener

        # Timeline entries enter people into journeys (after their commit).
        if listener not in activity_listeners:
            activity_listeners.append(listener)
        # Waits run out with time, not with events: the clock starts the engine.
        schedule.register("journeys.advance", journeys_advance, every=timedelta(seconds=10))
        # Triggers with no timeline entry to hear (no-shows, clicks, segment entry).
        schedule.register("journeys.triggers", journeys_poll_triggers, every=timedelta(minutes=1))
