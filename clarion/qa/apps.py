from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "clarion.qa"
    label = "qa"
    verbose_name = "Live Q&A"
