from datetime import timedelta

from django.apps import AppConfig


class MembersConfig(AppConfig):
    """The members' home: sign-in by email link, a member's own details, preferences,
    membership and local party. It draws on groups, events and donations, so it sits
    above them."""

    name = "clarion.members"
    label = "members"
    verbose_name = "Members"

    def ready(self):
        from clarion.api import person_extras
        from clarion.core import schedule
        from clarion.events import checkin as events_checkin

        from . import api_fields, checkin, privacy  # noqa: F401  (privacy registers)
        from .payments import stops
        from .payments.tasks import provider_stops_due
        from .services import expired_rows_delete
        from .tasks import membership_lifecycle

        schedule.register("members.cleanup", expired_rows_delete, every=timedelta(hours=6))
        # Lapses, renewal reminders and win-back emails; each happens once however
        # often it runs, so hourly only makes them prompt.
        schedule.register("members.lifecycle", membership_lifecycle, every=timedelta(hours=1))
        # Cancelling a membership stops its card or Direct Debit subscription at the
        # provider; a stop that met an outage is tried again when due.
        stops.register()
        schedule.register("members.provider_stops", provider_stops_due, every=timedelta(minutes=15))
        # clarion:membership on the API's person documents.
        person_extras.register(api_fields.FIELD)
        # A membership card's QR code in the event check-in search box.
        if checkin.card_lookup not in events_checkin.checkin_lookups:
            events_checkin.checkin_lookups.append(checkin.card_lookup)
