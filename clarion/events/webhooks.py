"""Events' part of outgoing webhooks: attendances (registered with
``clarion.api.webhooks`` from ``EventsConfig.ready``)."""

from __future__ import annotations

from clarion.api.models import Webhook
from clarion.api.webhooks import WebhookSource, webhook_source_register
from clarion.people.models import Activity

from .apis import attendance_document
from .models import Rsvp

EventType = Webhook.EventType


def _classify(activity: Activity) -> tuple[str, int, str] | None:
    data = activity.data or {}
    if (
        data.get("rsvp")
        and data.get("status") in ("going", "waitlisted")
        and "attendance" not in data
    ):
        return EventType.ATTENDANCE, int(data["rsvp"]), f"attendance:{data['rsvp']}"
    return None


def _attendance(object_id: int):
    obj = Rsvp.objects.select_related("event").filter(pk=object_id).first()
    return None if obj is None else (attendance_document(None, obj), obj.person_id)


webhook_source_register(
    WebhookSource(
        activity_kind=Activity.Kind.EVENT,
        classify=_classify,
        documents={EventType.ATTENDANCE: _attendance},
    )
)
