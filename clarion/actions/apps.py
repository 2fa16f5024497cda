from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "clarion.actions"
    label = "actions"
    verbose_name = "Action pages"

    def ready(self):
        from datetime import timedelta

        from clarion.core import schedule

        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            retention,  # noqa: F401  (tells people.retention what it keeps)
            segments,  # noqa: F401  (the "action_taken" and "recruited" conditions)
            webhooks,  # noqa: F401  (signatures and submissions for outgoing webhooks)
        )
        from .index import register
        from .tasks import submissions_intake_process

        register()  # the public home page's campaigns and donation sections
        # Public forms queue their intake's processing; this collects anything a lost
        # queue or a killed worker left behind.
        schedule.register("actions.intake", submissions_intake_process, every=timedelta(minutes=1))
