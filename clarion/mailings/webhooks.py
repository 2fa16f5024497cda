"""Provider webhooks: delivery and engagement events from an email provider, through
django-anymail's tracking views and its ``tracking`` signal.

Only the provider named in ``CLARION_MAILINGS_ESP`` is accepted; anymail checks the
provider's signature (or basic auth) before the signal fires. Events are mapped onto
the same services ``clarion inbound`` uses, so a bounce, complaint or unsubscribe
reported by the provider suppresses and lands on the person's timeline exactly like
one received by mail.

Which ledger row an event is about comes from our own Message-ID
(``<m<mailing>.r<recipient>@…>``, which providers echo back), and the event's
recipient address must match that row; a ``clarion`` metadata value carrying a signed
recipient token is accepted too.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from clarion.core.site import is_own_url
from clarion.people.normalise import email_hash

from .models import Event, Link, Recipient
from .sending import tokens

log = logging.getLogger(__name__)

_MESSAGE_ID_RE = re.compile(r"<?m(\d+)\.r(\d+)@[^>]*>?$")
_STATUS_RE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def _tracking_views() -> dict:
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView
    from anymail.webhooks.mailjet import MailjetTrackingWebhookView
    from anymail.webhooks.postmark import PostmarkTrackingWebhookView
    from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
    from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView

    return {
        "mailgun": MailgunTrackingWebhookView,
        "mailjet": MailjetTrackingWebhookView,
        "postmark": PostmarkTrackingWebhookView,
        "sendgrid": SendGridTrackingWebhookView,
        "sparkpost": SparkPostTrackingWebhookView,
    }


@csrf_exempt
def esp_tracking(request: HttpRequest, esp: str) -> HttpResponse:
    """Hand the request to anymail's view for the configured provider (404 for any
    other, so an unconfigured provider never answers 500)."""
    view = _tracking_views().get(esp)
    if view is None or esp != getattr(settings, "CLARION_MAILINGS_ESP", ""):
        raise Http404
    return view.as_view()(request)


def _recipient(event) -> Recipient | None:
    metadata = getattr(event, "metadata", None) or {}
    rid = (
        tokens.recipient_id_from_token(str(metadata.get("clarion", "")))
        if metadata.get("clarion")
        else None
    )
    mailing_id = None
    if rid is None:
        match = _MESSAGE_ID_RE.match((event.message_id or "").strip())
        if not match:
            return None
        mailing_id, rid = int(match.group(1)), int(match.group(2))
    recipient = Recipient.objects.select_related("mailing", "person").filter(pk=rid).first()
    if recipient is None or (mailing_id is not None and recipient.mailing_id != mailing_id):
        return None
    # The provider's recipient must be the address this row was sent to.
    if not event.recipient or email_hash(event.recipient) != recipient.email_hash:
        return None
    return recipient


def on_tracking(sender, event, esp_name, **kwargs) -> None:
    """anymail ``tracking`` signal receiver (runs inside the webhook request)."""
    from . import services

    recipient = _recipient(event)
    if recipient is None:
        log.info("esp webhook: %s %s names no recipient of ours", esp_name, event.event_type)
        return
    kind = event.event_type
    detail = (event.mta_response or event.description or "")[:250]
    status = _STATUS_RE.search(detail)
    if (
        kind in ("bounced", "rejected", "deferred")
        and Event.objects.filter(
            recipient=recipient, kind=Event.Kind.BOUNCE, hard__in=[True, kind != "deferred"]
        ).exists()
    ):
        # Providers retry webhooks and report each retry of a deferred message: one
        # message counts as one bounce (a hard one is never downgraded).
        return
    if kind == "bounced" or (kind == "rejected" and event.reject_reason == "bounced"):
        services.bounce_record(
            recipient=recipient,
            hard=True,
            status_code=status.group(1) if status else "5.0.0",
            diagnostic=f"{esp_name}: {detail}",
        )
    elif kind == "deferred":
        services.bounce_record(
            recipient=recipient,
            hard=False,
            status_code=status.group(1) if status else "4.0.0",
            diagnostic=f"{esp_name}: {detail}",
        )
    elif kind == "complained":
        services.complaint_record(recipient=recipient, detail=f"{esp_name} complaint")
    elif kind == "unsubscribed":
        services.recipient_unsubscribe(recipient=recipient, how=esp_name)
    elif kind == "opened":
        services.open_record(recipient=recipient, user_agent=event.user_agent or "")
    elif kind == "clicked":
        url = event.click_url or ""
        if is_own_url(url) and urlsplit(url).path.startswith("/m/c/"):
            return  # our own click redirect has counted it already
        link = Link.objects.filter(mailing_id=recipient.mailing_id, url=url).first()
        if link is not None:
            services.click_record(recipient=recipient, link=link, user_agent=event.user_agent or "")
