from django.apps import AppConfig


class DonationsConfig(AppConfig):
    name = "clarion.donations"
    label = "donations"
    verbose_name = "Donations"
