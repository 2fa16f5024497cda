from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "clarion.events"
    label = "events"
    verbose_name = "Events"

    def ready(self):
        from . import privacy  # noqa: F401  (registers export, erase and merge)
