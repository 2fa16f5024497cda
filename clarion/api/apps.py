from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "clarion.api"
    label = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from datetime import timedelta

        from clarion.core import schedule
        from clarion.people import services as people_services

        from . import webhooks_privacy  # noqa: F401  (registers)
        from .state import state_cleanup
        from .webhooks import on_activity

        if on_activity not in people_services.activity_listeners:
            people_services.activity_listeners.append(on_activity)
        # Expired rate-limit windows, paging boundaries and counts (database cache only).
        schedule.register("api.state_cleanup", state_cleanup, every=timedelta(minutes=10))
