"""Webhook deliveries about a person, for subject access, erasure and merging
(docs/personal-data.md). A delivery's body is a copy of the person's data on its way
to a receiver: erasure deletes it, and a delivery not yet sent is then never sent."""

from __future__ import annotations

from clarion.core import privacy

from .models import WebhookDelivery


def export(person) -> dict:
    return {
        "webhook_deliveries": list(
            WebhookDelivery.objects.filter(person_id=person.pk)
            .order_by("created_at", "id")
            .values("event_type", "status", "attempts", "created_at", "delivered_at")
        )
    }


def erase(person) -> None:
    WebhookDelivery.objects.filter(person_id=person.pk).delete()


def merge(survivor, duplicate) -> None:
    WebhookDelivery.objects.filter(person_id=duplicate.pk).update(person_id=survivor.pk)


privacy.register("webhooks", export=export, erase=erase, merge=merge)
