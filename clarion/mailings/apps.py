from django.apps import AppConfig


class MailingsConfig(AppConfig):
    name = "clarion.mailings"
    label = "mailings"
    verbose_name = "Mailings"

    def ready(self):
        from anymail.signals import tracking

        from . import (
            privacy,  # noqa: F401  (registers export, erase and merge)
            retention,  # noqa: F401  (tells people.retention what it keeps)
            segments,  # noqa: F401  (the "email" segment condition)
        )
        from .webhooks import on_tracking

        tracking.connect(on_tracking, dispatch_uid="clarion.mailings.webhooks")
