"""Periodic jobs: a registry that apps fill in, run by ``clarion clock``.

An app declares its jobs once, from its ``AppConfig.ready()``::

    from datetime import timedelta
    from clarion.core import schedule

    class EventsConfig(AppConfig):
        def ready(self):
            from . import services, tasks
            schedule.register("events.reminders", services.reminders_queue,
                              every=timedelta(minutes=5))
            # or, for a django-tasks Task, enqueued rather than run by the clock:
            schedule.register("events.cleanup", tasks.cleanup, every=timedelta(days=1))

or with the decorator, on a module that ``ready()`` imports::

    @schedule.periodic("people.retention", every=timedelta(days=1))
    @task()
    def retention_daily(): ...

A *target* is either a django-tasks ``Task`` (enqueued, so a worker runs it and the
clock stays responsive) or a plain callable taking no arguments (run in the clock
process: keep it short, e.g. something that only enqueues). Either must be
idempotent: a period whose enqueue fails is not retried before the next one, and a
job may run twice if a commit is lost after the enqueue reached Redis.

Once per period, whatever the number of clocks: each job has a ``core.ScheduledJob``
row holding ``next_run_at``. A clock runs a job only after it has moved that time
forward with one conditional UPDATE (``... WHERE name = %s AND next_run_at <= now``).
The database applies the UPDATEs one after the other (a row lock on PostgreSQL, the
write lock on SQLite), and the second one finds the row no longer due, so it updates
nothing and that clock does not run the job. No clock holds a lock while it works.

Registration is per process and idempotent (a name registered again replaces the
job), so it is safe under autoreload and in tests; ``unregister`` is for tests.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks.base import Task

from .models import ScheduledJob

logger = logging.getLogger(__name__)

# Jobs due this often or more start too often to announce each start.
QUIET_BELOW = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    target: Callable[[], Any] | Task

    @property
    def is_task(self) -> bool:
        return isinstance(self.target, Task)


_registry: dict[str, Job] = {}


def register(name: str, target: Callable[[], Any] | Task, *, every: dt.timedelta) -> Job:
    """Run ``target`` once every ``every``, starting at the first clock tick."""
    if every <= dt.timedelta(0):
        raise ValueError("A periodic job needs a positive period.")
    job = Job(name=name, every=every, target=target)
    _registry[name] = job
    return job


def periodic(name: str, *, every: dt.timedelta):
    """Decorator form of ``register``; returns the target unchanged."""

    def decorate(target):
        register(name, target, every=every)
        return target

    return decorate


def unregister(name: str) -> None:
    _registry.pop(name, None)


def jobs() -> list[Job]:
    return list(_registry.values())


def job_claim(job: Job, *, now: dt.datetime, claimer: str = "") -> bool:
    """Claim this period of ``job``: True for exactly one caller per period.

    Creates the job's row on first sight (due at once). Must run inside the caller's
    transaction when the caller wants the claim and what it does next to commit
    together. Raises the database's errors (the clock backs off on them).
    """
    ScheduledJob.objects.get_or_create(name=job.name, defaults={"next_run_at": now})
    claimed = ScheduledJob.objects.filter(name=job.name, next_run_at__lte=now).update(
        next_run_at=now + job.every, last_run_at=now, last_claimed_by=claimer[:200]
    )
    return claimed == 1


def run_due(*, now: dt.datetime | None = None, claimer: str = "") -> list[str]:
    """Claim and start every job that is due; returns the names started by this call.

    A Task is enqueued in the same transaction as its claim, so with the database task
    backend the two commit together. A plain callable runs after the claim commits;
    if it raises, the error is logged and the job waits for its next period. Database
    errors (connection lost) propagate to the caller.
    """
    now = now or timezone.now()
    started = []
    for job in jobs():
        with transaction.atomic():
            if not job_claim(job, now=now, claimer=claimer):
                continue
            if job.is_task:
                job.target.enqueue()
        if not job.is_task:
            try:
                job.target()
            except Exception:
                logger.exception("periodic job %s failed", job.name)
                continue
        # A job that runs every few seconds would fill the operator's console; its
        # starts are logged at DEBUG (failures are always logged).
        level = logging.DEBUG if job.every <= QUIET_BELOW else logging.INFO
        logger.log(level, "periodic job %s started", job.name)
        started.append(job.name)
    return started


def seconds_until_due(*, now: dt.datetime | None = None) -> float | None:
    """Seconds until the earliest registered job is due (0 when one is due now);
    None when no job is registered."""
    names = [job.name for job in jobs()]
    if not names:
        return None
    now = now or timezone.now()
    rows = dict(ScheduledJob.objects.filter(name__in=names).values_list("name", "next_run_at"))
    if len(rows) < len(names):
        return 0.0
    return max(0.0, (min(rows.values()) - now).total_seconds())
