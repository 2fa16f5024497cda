from django.apps import AppConfig


class EngagementConfig(AppConfig):
    """The engagement score and ladder levels: points for what each person does, decaying
    with time, kept up to date as activities arrive. It reads activities of every
    capability app, so it sits above them."""

    name = "clarion.engagement"
    label = "engagement"
    verbose_name = "Engagement"
