"""Donations' part of outgoing webhooks: succeeded gifts (registered with
``clarion.api.webhooks`` from ``DonationsConfig.ready``)."""

from __future__ import annotations

from clarion.api.models import Webhook
from clarion.api.webhooks import WebhookSource, webhook_source_register
from clarion.people.models import Activity

from .apis import donation_document
from .models import Donation

EventType = Webhook.EventType


def _classify(activity: Activity) -> tuple[str, int, str] | None:
    data = activity.data or {}
    if data.get("event") == "succeeded" and data.get("donation_id"):
        donation_id = int(data["donation_id"])
        return EventType.DONATION, donation_id, f"donation:{donation_id}"
    return None


def _donation(object_id: int):
    obj = Donation.objects.select_related("page").filter(pk=object_id).first()
    return None if obj is None else (donation_document(None, obj), obj.person_id)


webhook_source_register(
    WebhookSource(
        activity_kind=Activity.Kind.DONATION,
        classify=_classify,
        documents={EventType.DONATION: _donation},
    )
)
