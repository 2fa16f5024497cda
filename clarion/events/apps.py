from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "clarion.events"
    label = "events"
    verbose_name = "Events"

    def ready(self):
        from datetime import timedelta

        from clarion.core import schedule

        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            retention,  # noqa: F401  (tells people.retention what it keeps)
            webhooks,  # noqa: F401  (attendances for outgoing webhooks)
        )
        from .services import reminders_queue

        # Idempotent (each email is claimed by a sent-marker row), so the clock may
        # call it as often as it likes; it only enqueues.
        schedule.register("events.reminders", reminders_queue, every=timedelta(minutes=5))
