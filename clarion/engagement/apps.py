from django.apps import AppConfig


class EngagementConfig(AppConfig):
    """The engagement score and ladder levels: points for what each person does, decaying
    with time, kept up to date as activities arrive. It reads activities of every
    capability app, so it sits above them."""

    name = "clarion.engagement"
    label = "engagement"
    verbose_name = "Engagement"

    def ready(self) -> None:
        from clarion.people import services as people_services
        from clarion.people.views.panels import PersonPanel, person_panel_register

        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            segments,  # noqa: F401  (registers the score and ladder level conditions)
        )
        from .services import activity_fold
        from .views import person_panel_context

        if activity_fold not in people_services.activity_listeners:
            people_services.activity_listeners.append(activity_fold)
        person_panel_register(
            PersonPanel(
                key="engagement",
                template="engagement/_person_panel.html",
                context=person_panel_context,
                order=10,
            )
        )
