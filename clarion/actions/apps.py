from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "clarion.actions"
    label = "actions"
    verbose_name = "Action pages"

    def ready(self):
        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            retention,  # noqa: F401  (tells people.retention what it keeps)
            segments,  # noqa: F401  (the "action_taken" and "recruited" conditions)
            webhooks,  # noqa: F401  (signatures and submissions for outgoing webhooks)
        )
        from .index import register

        register()  # the public home page's campaigns and donation sections
