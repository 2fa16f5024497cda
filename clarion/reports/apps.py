from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The home page and the organiser dashboard: figures read across the apps, so this
    app sits on top of them."""

    name = "clarion.reports"
    label = "reports"
    verbose_name = "Reports"
