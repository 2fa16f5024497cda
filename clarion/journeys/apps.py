from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Journeys: automation that moves each supporter up the ladder of engagement
    (triggers, emails through the mailing ledger, waits, decisions, tags, and a to-do
    for a human organiser). It uses mailings and segments, so it sits above them."""

    name = "clarion.journeys"
    label = "journeys"
    verbose_name = "Journeys"
