"""Outgoing webhooks: which timeline entries become which events, the signed POST,
and the retry schedule.

Flow: ``people.services.activity_record`` runs ``on_activity`` after each commit
(registered in ``ApiConfig.ready``). When an active webhook listens for the event,
one ``WebhookDelivery`` row is written per webhook and the ``webhook_deliver`` task
is queued. The task claims the row (a conditional UPDATE, so two workers never POST
the same delivery at once), POSTs the body signed with HMAC-SHA256, and on failure
schedules the next attempt with exponential backoff. Delivery is at least once: a
worker killed after the POST but before recording success leaves a claim that
expires and is retried, so receivers dedupe on the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clarion.people.models import Activity, EmailStatus, Person

from . import hal
from .models import Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Clarion-Signature"
EventType = Webhook.EventType
Status = WebhookDelivery.Status

# The key each event's document sits under in the POSTed array, as Action Network's
# webhooks do ("the JSON closure that surrounds the hash"). Types Action Network has
# no payload for are Clarion's own.
OSDI_TYPES = {
    EventType.PERSON_SIGNUP: "action_network:action",
    EventType.SIGNATURE: "osdi:signature",
    EventType.SUBMISSION: "osdi:submission",
    EventType.ATTENDANCE: "osdi:attendance",
    EventType.DONATION: "osdi:donation",
    EventType.UNSUBSCRIBE: "clarion:unsubscribe",
    EventType.BOUNCE: "clarion:bounce",
}
_CORE_KINDS = frozenset({Activity.Kind.CREATED, Activity.Kind.EMAIL_STATUS})


# --- settings (read when used, never at import) -------------------------------------


def _retry_base() -> float:
    return float(getattr(settings, "CLARION_WEBHOOK_RETRY_SECONDS", 30))


def _max_attempts() -> int:
    return int(getattr(settings, "CLARION_WEBHOOK_MAX_ATTEMPTS", 8))


def _timeout() -> float:
    return float(getattr(settings, "CLARION_WEBHOOK_TIMEOUT", 10))


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: base × 2^(attempts-1), at most six hours."""
    seconds = _retry_base() * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, 6 * 3600))


# --- signing -----------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_hex(32)


def sign(secret: str, body: bytes) -> str:
    """The ``X-Clarion-Signature`` value: ``sha256=`` and the hex HMAC of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute over the bytes received and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), (header or "").strip())


# --- which events are wanted --------------------------------------------------------

# A per-process cache of the event types some active webhook listens for, so a
# timeline entry costs no query at all when no webhook is registered. Another
# process sees a new webhook after at most _TYPES_TTL seconds.
_TYPES_TTL = 5.0
_types_cache: dict = {"at": -_TYPES_TTL, "types": frozenset()}


def active_event_types() -> frozenset[str]:
    now = time.monotonic()
    if now - _types_cache["at"] >= _TYPES_TTL:
        _types_cache["types"] = frozenset(
            Webhook.objects.filter(is_active=True).values_list("event_type", flat=True)
        )
        _types_cache["at"] = now
    return _types_cache["types"]


def forget_active_event_types() -> None:
    _types_cache["at"] = -_TYPES_TTL


# --- what each app contributes (registered from its AppConfig.ready()) ---------------


@dataclass(frozen=True)
class WebhookSource:
    """How one app's timeline entries become webhook events, and how their documents
    are built. ``classify(activity)`` answers ``(event_type, object_id, event_key)`` or
    None; ``documents`` maps each event type to ``build(object_id)``, which answers
    ``(document, person_id)`` or None when the object has gone."""

    activity_kind: str
    classify: Callable[[Activity], tuple[str, int, str] | None]
    documents: dict[str, Callable[[int], tuple[dict, int | None] | None]]


_sources: dict[str, WebhookSource] = {}
_builders: dict[str, Callable[[int], tuple[dict, int | None] | None]] = {}


def webhook_source_register(source: WebhookSource) -> None:
    """Called by an app that sits above the API framework (actions, events, donations),
    so this module never imports them."""
    _sources[source.activity_kind] = source
    _builders.update(source.documents)


def event_for_activity(activity: Activity) -> tuple[str, int, str] | None:
    """``(event_type, object_id, event_key)`` for a timeline entry, or None.

    The key names the object, so an RSVP promoted from the waiting list or a
    double-opt-in signature confirmed later is not sent a second time; status
    changes (unsubscribe, bounce) are keyed by the entry itself, since a person can
    unsubscribe again after resubscribing.
    """
    data = activity.data or {}
    kind = activity.kind
    if kind == Activity.Kind.CREATED:
        return EventType.PERSON_SIGNUP, activity.person_id, f"person_signup:{activity.person_id}"
    if kind == Activity.Kind.EMAIL_STATUS:
        status = data.get("status")
        if status in (EmailStatus.UNSUBSCRIBED, EmailStatus.COMPLAINED):
            return EventType.UNSUBSCRIBE, activity.person_id, f"unsubscribe:{activity.pk}"
        if status == EmailStatus.BOUNCING:
            return EventType.BOUNCE, activity.person_id, f"bounce:{activity.pk}"
        return None
    source = _sources.get(kind)
    return source.classify(activity) if source is not None else None


def on_activity(activity: Activity) -> None:
    """Activity listener (after commit): queue a delivery to each webhook that wants it.

    Costs nothing but a set lookup when no active webhook listens for the entry's event.
    """
    if (activity.kind not in _CORE_KINDS and activity.kind not in _sources) or not (
        active_event_types()
    ):
        return
    found = event_for_activity(activity)
    if found is None or found[0] not in active_event_types():
        return
    event_type, object_id, event_key = found
    for webhook in Webhook.objects.filter(is_active=True, event_type=event_type):
        delivery = delivery_create(
            webhook=webhook,
            event_type=event_type,
            object_id=object_id,
            event_key=event_key,
            person_id=activity.person_id,
        )
        if delivery is not None:
            delivery_enqueue(delivery.pk)


# --- writes ------------------------------------------------------------------------


@transaction.atomic
def webhook_save(
    *, webhook: Webhook, actor=None, request=None, new_secret_too: bool = False
) -> Webhook:
    """Create or update a webhook (audited); a new one, or ``new_secret_too``, gets a
    fresh signing secret."""
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    created = webhook.pk is None
    if not webhook.secret or new_secret_too:
        webhook.secret = new_secret()
    if created and actor is not None:
        webhook.created_by = actor
    webhook.modified_at = timezone.now()
    webhook.full_clean()
    webhook.save()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.OTHER,
        summary=f"Webhook {webhook.pk} {'created' if created else 'changed'}: "
        f"{webhook.event_type} {'on' if webhook.is_active else 'off'}"
        + (", new secret" if new_secret_too else ""),
        object_type="webhook",
        object_id=webhook.pk,
        detail={"url": webhook.url, "event_type": webhook.event_type},
        request=request,
    )
    transaction.on_commit(forget_active_event_types)
    forget_active_event_types()
    return webhook


def delivery_create(
    *, webhook: Webhook, event_type: str, object_id: int, event_key: str, person_id: int | None
) -> WebhookDelivery | None:
    """A pending delivery, or None when this event was already queued for ``webhook``."""
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                webhook=webhook,
                event_type=event_type,
                object_id=object_id,
                event_key=event_key[:100],
                person_id=person_id,
            )
    except IntegrityError:
        return None


def delivery_enqueue(delivery_id: int, *, run_after=None) -> None:
    """Queue ``webhook_deliver``; deferred when the backend can defer. If queueing fails
    the row stays due and ``clarion webhooks_retry`` picks it up."""
    from .webhooks_tasks import webhook_deliver

    task = webhook_deliver
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return  # left for ``clarion webhooks_retry``
        task = task.using(run_after=run_after)
    try:
        task.enqueue(delivery_id=delivery_id)
    except Exception:
        logger.exception("Could not queue webhook delivery %s; it stays due", delivery_id)


def _due_q(now) -> Q:
    return Q(status__in=[Status.PENDING, Status.RETRYING], next_attempt_at__lte=now) | Q(
        status=Status.SENDING, claimed_until__lt=now
    )


def deliveries_due(limit: int = 500) -> list[int]:
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(_due_q(now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def delivery_retry_now(*, delivery: WebhookDelivery) -> None:
    """Staff "send again": make a finished or waiting delivery due at once."""
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=Status.SENDING).update(
        status=Status.RETRYING, next_attempt_at=timezone.now(), claimed_until=None
    )
    delivery_enqueue(delivery.pk)


# --- payloads ----------------------------------------------------------------------


def _person(person_id: int | None) -> Person | None:
    if person_id is None:
        return None
    return (
        Person.objects.filter(pk=person_id)
        .prefetch_related("identifiers", "other_emails", "other_phones")
        .first()
    )


def event_document(event_type: str, object_id: int) -> tuple[dict, Person | None] | None:
    """The resource the event is about, in its API shape, and its person (None when the
    object has gone, e.g. a person erased before the delivery ran)."""
    build = _builders.get(event_type)
    if build is not None:
        found = build(object_id)
        if found is None:
            return None
        document, person_id = found
        return document, _person(person_id)
    person = _person(object_id)
    if person is None:
        return None
    return {}, person


def delivery_body(delivery: WebhookDelivery) -> bytes | None:
    """The JSON POSTed for ``delivery``: an array of one event, as Action Network sends."""
    found = event_document(delivery.event_type, delivery.object_id)
    if found is None:
        return None
    doc, person = found
    doc = dict(doc)
    if person is not None:
        person_doc = hal.person_document(None, person)
        doc.setdefault("person", {k: v for k, v in person_doc.items() if k != "_links"})
        links = dict(doc.get("_links") or {})
        links.setdefault("osdi:person", {"href": person_doc["_links"]["self"]["href"]})
        doc["_links"] = links
    if delivery.event_type in (EventType.PERSON_SIGNUP, EventType.UNSUBSCRIBE, EventType.BOUNCE):
        doc.setdefault("created_date", hal.iso(delivery.created_at))
        doc.setdefault("modified_date", hal.iso(delivery.created_at))
        if delivery.event_type != EventType.PERSON_SIGNUP and person is not None:
            doc["email_status"] = hal.STATUS_OUT.get(person.email_status, "unsubscribed")
            doc["reason"] = person.email_status_reason
    event = {
        OSDI_TYPES[delivery.event_type]: doc,
        "action_network:sponsor": {
            "title": settings.ORGANISATION_NAME,
            "url": settings.SITE_URL,
        },
        "idempotency_key": str(delivery.idempotency_key),
    }
    return json.dumps([event], ensure_ascii=False, separators=(",", ":")).encode()


# --- the attempt -------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is a failed delivery: a POST body must not be re-sent elsewhere


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST and return (status code, error text); error text is empty on a 2xx."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=_timeout()) as response:
            response.read(65536)
            code = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return None, f"{type(exc.reason).__name__}: {exc.reason}"
    except (TimeoutError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= code < 300:
        return code, ""
    return code, f"HTTP {code}"


def delivery_attempt(*, delivery_id: int) -> str:
    """Claim ``delivery_id`` if it is due, POST it once, record the outcome.

    Safe to run twice or concurrently: the claim is a conditional UPDATE that only one
    caller wins; the loser returns "not due". The claim lasts past the POST's timeout,
    so a worker that dies mid-POST leaves a delivery that becomes due again.
    """
    now = timezone.now()
    claim_for = timedelta(seconds=_timeout() * 2 + 30)
    won = WebhookDelivery.objects.filter(_due_q(now), pk=delivery_id).update(
        status=Status.SENDING, claimed_until=now + claim_for, attempts=F("attempts") + 1
    )
    if not won:
        return "not due"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    if not webhook.is_active:
        _finish(delivery, Status.SKIPPED, error="The webhook is turned off.")
        return "skipped"
    if not delivery.body:
        body = delivery_body(delivery)
        if body is None:
            _finish(delivery, Status.SKIPPED, error="The record no longer exists.")
            return "skipped"
        delivery.body = body.decode()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(body=delivery.body)
    raw = delivery.body.encode()
    code, error = _post(
        webhook.url,
        raw,
        {
            "Content-Type": "application/json",
            "User-Agent": "Clarion-Webhooks/1",
            SIGNATURE_HEADER: sign(webhook.secret, raw),
            "X-Clarion-Event": delivery.event_type,
            "Idempotency-Key": str(delivery.idempotency_key),
        },
    )
    if not error:
        _finish(delivery, Status.DELIVERED, code=code)
        return "delivered"
    if delivery.attempts >= _max_attempts():
        _finish(delivery, Status.FAILED, code=code, error=error)
        return "failed"
    next_at = timezone.now() + retry_delay(delivery.attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.RETRYING,
        last_status_code=code,
        last_error=error[:500],
        next_attempt_at=next_at,
        claimed_until=None,
    )
    delivery_enqueue(delivery.pk, run_after=next_at)
    return "will retry"


def _finish(delivery: WebhookDelivery, status: str, *, code=None, error: str = "") -> None:
    fields = {"status": status, "claimed_until": None, "last_error": error[:500]}
    if code is not None:
        fields["last_status_code"] = code
    if status == Status.DELIVERED:
        fields["delivered_at"] = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(**fields)
