from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "clarion.qa"
    label = "qa"
    verbose_name = "Live Q&A"

    def ready(self) -> None:
        # Registers Q&A personal data with clarion.core.privacy (invariant 7).
        from . import (
            privacy,  # noqa: F401
            retention,  # noqa: F401  (tells people.retention what it keeps)
        )
        from .index import register

        register()  # the public home page's Q&A section
