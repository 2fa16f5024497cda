from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "clarion.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        # Registers people's personal data with clarion.core.privacy (invariant 7).
        # Registers the email that asks a mailbox owner to confirm proposed changes.
        from clarion.areas import counts

        from . import (
            privacy,  # noqa: F401
            proposals,  # noqa: F401
        )
        from .selectors import people_per_area

        # The staff area pages count people per area through us (areas sits below).
        counts.people_per_area_register(people_per_area)
