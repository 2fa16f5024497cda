"""Mailings' entries for the scope walk (clarion/core/tests/test_scope_walk.py)."""

from __future__ import annotations

URL_KWARGS = {
    # A from address an administrator allowed for the South only.
    "mailings_staff:from_address_delete": lambda w: {"pk": w.south_from_address.pk},
    # Email categories are national: only administrators change them.
    "mailings_staff:category_edit": lambda w: {"pk": w.category.pk},
    "mailings_staff:category_delete": lambda w: {"pk": w.category.pk},
    # Cancelling the South mailing's scheduled send.
    "mailings_staff:unschedule": lambda w: {"pk": w.south_mailing.pk},
    # Saving the South mailing as a template; removing a South template.
    "mailings_staff:template_save": lambda w: {"pk": w.south_mailing.pk},
    "mailings_staff:template_delete": lambda w: {"pk": w.south_template.pk},
    # Provider webhooks: the walk's organiser is no provider; none is configured.
    "mailings:esp_tracking": lambda w: [{"esp": "mailgun"}, {"esp": "postmark"}],
    # API messages: the South's mailing.
    "api:message": lambda w: {"message_id": w.south_mailing.pk},
    "api:message_schedule": lambda w: {"message_id": w.south_mailing.pk},
    "api:message_send": lambda w: {"message_id": w.south_mailing.pk},
}


def extend_world(w) -> None:
    from clarion.core.tests.test_scope_walk import SOUTH_LAST
    from clarion.mailings.models import EmailCategory, FromAddress, MailingTemplate

    w.south_from_address = FromAddress.objects.create(
        area=w.areas.south, email="south-team@example.org", name=f"{SOUTH_LAST} team"
    )
    w.south_template = MailingTemplate.objects.create(
        name=f"{SOUTH_LAST} appeal",
        subject=f"Dear {SOUTH_LAST}",
        body=f"Write to {SOUTH_LAST}",
        area=w.areas.south,
    )
    w.category = EmailCategory.objects.create(key="walk", name="Walk news")
