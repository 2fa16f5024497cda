from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "clarion.events"
    label = "events"
    verbose_name = "Events"

    def ready(self):
        from datetime import timedelta

        from clarion.actions import plugins
        from clarion.core import schedule

        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            retention,  # noqa: F401  (tells people.retention what it keeps)
            segments,  # noqa: F401  (the "event" segment condition)
            webhooks,  # noqa: F401  (attendances for outgoing webhooks)
        )
        from .home import register
        from .selectors import nearest_upcoming_event
        from .services import reminders_queue

        register()  # the public home page's upcoming events

        # The "come along in person" next step on action pages finds events through us.
        plugins.events_register(plugins.EventPlugin(nearest=nearest_upcoming_event))

        # Idempotent (each email is claimed by a sent-marker row), so the clock may
        # call it as often as it likes; it only enqueues.
        schedule.register("events.reminders", reminders_queue, every=timedelta(minutes=5))
