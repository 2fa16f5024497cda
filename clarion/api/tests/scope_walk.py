"""The api app's entries for the scope walk (core/tests/test_scope_walk.py)."""

from __future__ import annotations


def extend_world(w) -> None:
    from clarion.api.models import Webhook, WebhookDelivery

    w.south_webhook = Webhook.objects.create(
        url="https://hooks.example.org/south", event_type=Webhook.EventType.SIGNATURE, secret="s"
    )
    w.south_delivery = WebhookDelivery.objects.create(
        webhook=w.south_webhook,
        event_type=Webhook.EventType.PERSON_SIGNUP,
        event_key=f"person_signup:{w.south.pk}",
        object_id=w.south.pk,
        person_id=w.south.pk,
        status=WebhookDelivery.Status.FAILED,
        last_error="HTTP 500",
    )


URL_KWARGS = {
    "api_staff:webhook_edit": lambda w: {"pk": w.south_webhook.pk},
    "api_staff:webhook_toggle": lambda w: {"pk": w.south_webhook.pk},
    "api_staff:webhook_secret": lambda w: {"pk": w.south_webhook.pk},
    "api_staff:webhook_delivery_retry": lambda w: {"pk": w.south_delivery.pk},
    "api:list": lambda w: {"list_id": w.plist.pk},
    "api:list_items": lambda w: {"list_id": w.plist.pk},
    "api:list_item": lambda w: {
        "list_id": w.plist.pk,
        "item_id": w.plist.memberships.get(person=w.south).pk,
    },
    "api:query": lambda w: {"query_id": w.south_segment.pk},
}
