from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "clarion.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        # Registers people's personal data with clarion.core.privacy (invariant 7).
        # Registers the email that asks a mailbox owner to confirm proposed changes.
        from . import (
            privacy,  # noqa: F401
            proposals,  # noqa: F401
        )
