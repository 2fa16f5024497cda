from django.apps import AppConfig


class DonationsConfig(AppConfig):
    name = "clarion.donations"
    label = "donations"
    verbose_name = "Donations"

    def ready(self) -> None:
        # privacy: registers donations' personal data with clarion.core.privacy
        # (invariant 7). segments: adds the money segment conditions. retention:
        # tells people.retention which gifts keep a donor.
        # webhooks: succeeded gifts for outgoing webhooks.
        from clarion.actions import plugins

        from . import privacy, retention, segments, webhooks  # noqa: F401
        from .selectors import page_totals
        from .services import donation_start, gift_for_thanks

        # Donation pages are action pages: they start gifts and total money through us.
        plugins.donations_register(
            plugins.DonationPlugin(start=donation_start, totals=page_totals, gift=gift_for_thanks)
        )
