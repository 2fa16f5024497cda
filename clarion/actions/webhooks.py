"""Action pages' part of outgoing webhooks: confirmed signatures and form submissions
(registered with ``clarion.api.webhooks`` from ``ActionsConfig.ready``)."""

from __future__ import annotations

from clarion.api.models import Webhook
from clarion.api.webhooks import WebhookSource, webhook_source_register
from clarion.people.models import Activity

from .apis import FORM_KINDS, PETITION_KINDS, signature_document, submission_document
from .models import Submission

EventType = Webhook.EventType


def _classify(activity: Activity) -> tuple[str, int, str] | None:
    data = activity.data or {}
    if not data.get("submission") or data.get("status") != "confirmed":
        return None
    page_kind = data.get("kind")
    if page_kind is None:
        page_kind = (
            Submission.objects.filter(pk=data["submission"])
            .values_list("page__kind", flat=True)
            .first()
        )
    # The same split as the API's petitions and forms; letters have no API resource.
    if page_kind in PETITION_KINDS:
        event = EventType.SIGNATURE
    elif page_kind in FORM_KINDS:
        event = EventType.SUBMISSION
    else:
        return None
    return event, int(data["submission"]), f"{event}:{data['submission']}"


def _builder(build):
    def document(object_id: int):
        obj = Submission.objects.select_related("page").filter(pk=object_id).first()
        return None if obj is None else (build(None, obj), obj.person_id)

    return document


webhook_source_register(
    WebhookSource(
        activity_kind=Activity.Kind.ACTION,
        classify=_classify,
        documents={
            EventType.SIGNATURE: _builder(signature_document),
            EventType.SUBMISSION: _builder(submission_document),
        },
    )
)
