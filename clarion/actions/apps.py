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
        _forget_saved_pages()
        # Public forms queue their intake's processing; this collects anything a lost
        # queue or a killed worker left behind.
        schedule.register("actions.intake", submissions_intake_process, every=timedelta(minutes=1))


def _forget_saved_pages() -> None:
    """A saved or deleted page empties this process's public-page copies at once and
    again when its transaction commits (see ``selectors.public_page``)."""
    from django.db import transaction
    from django.db.models.signals import post_delete, post_save

    from .models import ActionPage
    from .selectors import public_page_forget

    def forget(sender, instance, **kwargs):
        # Every page, not only this slug: a renamed page's old slug goes too, and
        # staff saves are rare next to public reads.
        public_page_forget()
        transaction.on_commit(public_page_forget)

    post_save.connect(forget, sender=ActionPage, weak=False, dispatch_uid="actions.page_forget")
    post_delete.connect(forget, sender=ActionPage, weak=False, dispatch_uid="actions.page_forget_d")
