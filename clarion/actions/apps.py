from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "clarion.actions"
    label = "actions"
    verbose_name = "Action pages"
