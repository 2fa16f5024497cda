"""The RQ task backend, with a database outbox for while Redis is away.

With ``CLARION_TASK_BACKEND=rq`` a service enqueues its tasks after its transaction
commits. If Redis is unreachable at that moment the task would be gone (the row it
was about is committed, the email about it never sent). ``OutboxRQBackend`` writes
such a task to the database instead, as a row of django-tasks-db's table under the
``outbox`` backend alias (a database backend that no worker runs), and
``outbox_drain`` moves those rows onto RQ once Redis answers again: ``clarion worker``
runs it every few seconds beside the RQ worker, and any other process may too.

A drained task can reach RQ twice (Redis took the job, then the database lost the
deletion); tasks are idempotent, so that only costs a second, harmless run. Nothing
is lost but what was never committed.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_tasks import task_backends
from django_tasks_rq.backend import RQBackend

from .faults import REDIS_ERRORS, redis_breaker

logger = logging.getLogger("clarion.outbox")

OUTBOX_ALIAS = "outbox"
DRAIN_BATCH = 100


class OutboxRQBackend(RQBackend):
    """RQ on Redis; while Redis is unreachable, enqueue into the database outbox.

    ``supports_priority``: RQ's backend puts a task of the highest priority
    (``TASK_MAX_PRIORITY``) at the front of its queue and keeps the others in order;
    the outbox (the database backend) orders by priority. No task asks for anything
    between the default and the highest."""

    supports_priority = True

    def enqueue(self, task, args, kwargs):
        if not redis_breaker.open():
            try:
                return super().enqueue(task, args, kwargs)
            except REDIS_ERRORS as exc:
                redis_breaker.failed("task enqueue", exc)
        logger.warning("Redis unavailable: task %s kept in the outbox", task.name)
        return task.using(backend=OUTBOX_ALIAS).enqueue(*args, **kwargs)

    def enqueue_now(self, task, args, kwargs):
        """Enqueue on RQ or raise: no outbox (the drain's own path)."""
        return super().enqueue(task, args, kwargs)


def outbox_configured() -> bool:
    from django.conf import settings

    return OUTBOX_ALIAS in getattr(settings, "TASKS", {})


def outbox_pending() -> int:
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.ready().filter(backend_name=OUTBOX_ALIAS).count()


def outbox_drain(*, limit: int = 10_000) -> int:
    """Move up to ``limit`` outbox tasks onto RQ; return how many moved.

    Each batch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), so
    several processes may drain at once without sending a task twice in the normal
    case. A Redis error stops the drain and rolls the batch back (kept for the next
    drain); jobs of that batch already on RQ then run twice, harmlessly.
    """
    if not outbox_configured():
        return 0
    from django_tasks_db.models import DBTaskResult

    backend = task_backends["default"]
    if not isinstance(backend, OutboxRQBackend):
        return 0
    moved = 0
    while moved < limit:
        with transaction.atomic():
            rows = list(
                DBTaskResult.objects.ready()
                .filter(backend_name=OUTBOX_ALIAS)
                .order_by("enqueued_at")
                .select_for_update(skip_locked=True)[: min(DRAIN_BATCH, limit - moved)]
            )
            if not rows:
                break
            for row in rows:
                task = row.task.using(backend=backend.alias)
                backend.enqueue_now(task, row.args_kwargs["args"], row.args_kwargs["kwargs"])
            DBTaskResult.objects.filter(pk__in=[row.pk for row in rows]).delete()
        moved += len(rows)
    if moved:
        logger.info("Moved %d task(s) from the outbox to RQ", moved)
    return moved
