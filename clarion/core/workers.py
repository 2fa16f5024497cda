"""Task workers that outlive a lost database or Redis (``clarion worker``).

Both workers log, back off (``faults.Backoff``: bounded exponential with jitter) and
carry on; neither exits because a service went away.

- Database backend: ``ResilientDBWorker`` is django-tasks-db's worker with its claim
  loop wrapped. A connection error closes the connections and waits for the database
  to answer again. A task that failed *because* the connection went away (its error
  is an OperationalError or InterfaceError) is put back to ready, to run again once
  the database is back (tasks are idempotent), at most ``MAX_ATTEMPTS`` times.
- RQ backend: ``run_rq_worker`` restarts RQ's worker loop whenever it ends for any
  reason other than a stop signal (RQ gives up on some Redis errors), and
  ``RetryingJob`` waits for the database and runs the task again when it meets a
  connection error, instead of failing the job. A thread beside the RQ loop drains
  the outbox (``core.outbox``) of tasks enqueued while Redis was away.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from django.db import close_old_connections
from django.utils.module_loading import import_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker as DBWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_rq.backend import Job as TaskJob
from rq.worker import Worker as RQWorker

from .faults import DB_ERRORS, REDIS_ERRORS, Backoff, close_broken_connections, database_wait

logger = logging.getLogger("clarion.worker")

# Runs of one task that may end in a lost connection before that is its failure.
MAX_ATTEMPTS = 5
# How long a task waits for the database to come back before it fails (RQ).
DATABASE_WAIT_SECONDS = 300.0
OUTBOX_DRAIN_SECONDS = 5.0


def _is_connection_error(class_path: str) -> bool:
    try:
        cls = import_string(class_path)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, DB_ERRORS)


class ResilientDBWorker(DBWorker):
    """django-tasks-db's worker, surviving database outages (see the module doc)."""

    def run(self) -> None:
        backoff = Backoff()
        while self.running:
            try:
                super().run()
                return
            except DB_ERRORS as exc:
                logger.warning("Task worker lost the database (%s); waiting", type(exc).__name__)
                self.startup_delay = False
                database_wait(
                    backoff=backoff, should_stop=lambda: not self.running, limit=float("inf")
                )

    def run_task(self, db_task_result: DBTaskResult) -> None:
        try:
            super().run_task(db_task_result)
        except DB_ERRORS:
            # Recording the task's end failed: the database went away during it.
            self._retry_later(db_task_result)
            return
        if db_task_result.status == TaskResultStatus.FAILED and _is_connection_error(
            db_task_result.exception_class_path
        ):
            self._retry_later(db_task_result)

    def _retry_later(self, db_task_result: DBTaskResult) -> None:
        attempts = len(db_task_result.worker_ids)
        if attempts >= MAX_ATTEMPTS:
            logger.error(
                "Task %s lost its database connection %d times; leaving it failed",
                db_task_result.pk,
                attempts,
            )
            return
        logger.warning(
            "Task %s met a lost database connection; it will run again", db_task_result.pk
        )
        if database_wait(
            backoff=Backoff(), should_stop=lambda: not self.running, limit=float("inf")
        ):
            DBTaskResult.objects.filter(pk=db_task_result.pk).update(
                status=TaskResultStatus.READY,
                started_at=None,
                finished_at=None,
                return_value=None,
                exception_class_path="",
                traceback="",
            )


class RetryingJob(TaskJob):
    """An RQ job for a Django task that waits out a database outage and runs again."""

    def _execute(self):
        backoff = Backoff()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return super()._execute()
            except DB_ERRORS as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                logger.warning(
                    "Job %s lost the database (%s); waiting to run it again",
                    self.id,
                    type(exc).__name__,
                )
                if not database_wait(backoff=backoff, limit=DATABASE_WAIT_SECONDS):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


class ClarionRQWorker(RQWorker):
    """RQ's forking worker, remembering whether it was asked to stop."""

    stop_asked = False

    def request_stop(self, signum, frame):
        self.stop_asked = True
        super().request_stop(signum, frame)

    def request_force_stop(self, signum, frame):
        self.stop_asked = True
        super().request_force_stop(signum, frame)


def _drain_outbox_forever(stop: threading.Event) -> None:
    from .outbox import outbox_drain

    while not stop.wait(OUTBOX_DRAIN_SECONDS):
        try:
            outbox_drain()
        except REDIS_ERRORS + DB_ERRORS as exc:
            logger.warning("Outbox not drained (%s); trying again shortly", type(exc).__name__)
            close_broken_connections()
        except Exception:
            logger.exception("Outbox drain failed")
        finally:
            close_old_connections()


def run_rq_worker(*, queues: list[str], batch: bool = False) -> None:
    """Run RQ's worker until a stop signal, restarting it after Redis errors."""
    from django_rq.utils import reset_db_connections
    from django_rq.workers import get_worker

    from .outbox import outbox_configured

    stop = threading.Event()
    if outbox_configured() and not batch:
        threading.Thread(
            target=_drain_outbox_forever, args=(stop,), name="outbox-drain", daemon=True
        ).start()
    elif outbox_configured():
        from .outbox import outbox_drain

        outbox_drain()

    backoff = Backoff(base=1.0, cap=30.0)
    try:
        while True:
            started = time.monotonic()
            worker = None
            try:
                worker = get_worker(*queues, job_class=RetryingJob, worker_class=ClarionRQWorker)
                # Each job runs in a forked child: it must not share this process's
                # database connections.
                reset_db_connections()
                worker.work(burst=batch, logging_level="WARNING")
            except REDIS_ERRORS as exc:
                logger.warning("RQ worker lost Redis (%s)", type(exc).__name__)
            if batch or (worker is not None and worker.stop_asked):
                return
            if time.monotonic() - started > 60:
                backoff.reset()
            delay = backoff.next()
            logger.warning("RQ worker loop ended; restarting it in %.1f s", delay)
            # RQ's handlers belong to the worker that just ended; a stop now just exits.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
            time.sleep(delay)
    finally:
        stop.set()
