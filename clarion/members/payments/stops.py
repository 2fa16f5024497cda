"""Stopping a provider's subscription once Clarion no longer wants its payments: the
member cancelled (their "Cancel" button, a staff change, the provider's own
cancellation webhook), joined again with a new subscription, or had one replaced.

``members.membership`` writes a ``MembershipProviderStop`` row in the same transaction
as the change, so a stop is never lost to a crash; after the commit ``stop_queued``
(one of ``membership.cancel_listeners``) queues the ``provider_stop`` task for it. An
attempt that meets a provider outage (or a refusal, or missing settings) stays pending
and is queued again after an exponential wait (``retry_delay``); the
``members.provider_stops`` job queues every stop that is due, as a safety net for a
lost queue and for task backends that cannot defer. Nothing gives up: a stop is done
only when the provider says the subscription is cancelled (or already was, or does not
exist).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from .. import membership as lifecycle
from ..models import Membership, MembershipProviderStop
from . import DuesError, gocardless, stripe_dues

logger = logging.getLogger(__name__)

Status = MembershipProviderStop.Status
RETRY_BASE_SECONDS = 60
RETRY_MAX = dt.timedelta(hours=6)
STOPPERS = {
    Membership.Provider.GOCARDLESS: gocardless.subscription_cancel,
    Membership.Provider.STRIPE: stripe_dues.subscription_cancel,
}


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: a minute × 2^(attempts-1), at most six
    hours."""
    seconds = RETRY_BASE_SECONDS * (2 ** min(max(attempts - 1, 0), 20))
    return min(dt.timedelta(seconds=seconds), RETRY_MAX)


def stop_enqueue(stop_id: int, *, run_after: dt.datetime | None = None) -> None:
    """Queue ``provider_stop`` (deferred when the backend can defer; otherwise the
    ``members.provider_stops`` job picks it up when due). A queue that cannot be
    reached leaves the row pending for that job."""
    from .tasks import provider_stop

    task = provider_stop
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return
        task = task.using(run_after=run_after)
    try:
        task.enqueue(stop_id=stop_id)
    except Exception:
        logger.exception("Could not queue provider stop %s; it stays due", stop_id)


def stop_queued(membership: Membership) -> None:
    """``membership.cancel_listeners`` entry (after the commit): queue the membership's
    pending stops."""
    for stop_id in MembershipProviderStop.objects.filter(
        membership_id=membership.pk, status=Status.PENDING
    ).values_list("pk", flat=True):
        stop_enqueue(stop_id)


def stop_attempt(*, stop_id: int) -> str:
    """One attempt to stop one subscription at its provider. Idempotent: the row is
    locked for the attempt (a second worker waits, then finds it done), and the
    providers treat an already cancelled subscription as stopped. The lock is held
    across the provider call (at most its client's timeout). A failure records the
    error, schedules the next attempt and queues it; returns what happened."""
    now = timezone.now()
    with transaction.atomic():
        stop = MembershipProviderStop.objects.select_for_update().filter(pk=stop_id).first()
        if stop is None:
            return "gone"
        if stop.status == Status.DONE:
            return "already done"
        if stop.attempts and stop.next_attempt_at > now:
            return "not due"
        stop.attempts += 1
        try:
            outcome = STOPPERS[stop.provider](stop.subscription_id)
        except DuesError as exc:
            stop.last_error = str(exc)[:300]
            stop.next_attempt_at = now + retry_delay(stop.attempts)
            stop.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            next_at = stop.next_attempt_at
            outcome = ""
        else:
            stop.status, stop.outcome, stop.done_at = Status.DONE, outcome[:100], now
            stop.last_error = ""
            stop.save(update_fields=["attempts", "status", "outcome", "done_at", "last_error"])
    if not outcome:
        logger.warning(
            "Stopping %s subscription %s failed (attempt %s); next try at %s",
            stop.provider,
            stop.subscription_id,
            stop.attempts,
            next_at.isoformat(),
        )
        stop_enqueue(stop.pk, run_after=next_at)
        return "retrying"
    logger.info("Stopped %s subscription %s: %s", stop.provider, stop.subscription_id, outcome)
    return outcome


def stops_due(limit: int = 500) -> int:
    """The ``members.provider_stops`` job: queue every pending stop that is due."""
    due = list(
        MembershipProviderStop.objects.filter(
            status=Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for stop_id in due:
        stop_enqueue(stop_id)
    return len(due)


def register() -> None:
    """Called from the members app's ``ready()``."""
    if stop_queued not in lifecycle.cancel_listeners:
        lifecycle.cancel_listeners.append(stop_queued)
