"""``clarion clock``: start the periodic jobs registered in ``clarion.core.schedule``.

Run one or more anywhere (each job still runs once per period, see the schedule
module). A lost database connection is logged and retried with a growing pause.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

from django.core.management.base import BaseCommand
from django.db import Error as DatabaseError
from django.db import connections

from clarion.core import schedule

logger = logging.getLogger("clarion.clock")

MAX_BACKOFF = 60.0


def _drop_broken_connections() -> None:
    # Django reconnects on the next query once a broken connection is closed. One
    # inside an atomic block belongs to someone else's transaction (a test's): leave it.
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        try:
            conn.close_if_unusable_or_obsolete()
        except DatabaseError:
            pass


def clock_loop(
    *,
    stop: threading.Event,
    tick: float = 30.0,
    claimer: str = "",
    on_start: Callable[[str], None] | None = None,
    max_ticks: int | None = None,
) -> None:
    """Start due jobs, sleep until the next one is due (at most ``tick`` seconds),
    until ``stop`` is set (or after ``max_ticks`` passes, for ``--once`` and tests).

    An error never ends the loop. After a database error a broken connection is
    dropped, so the next pass opens a fresh one. The pause after an error doubles from 1 s up
    to ``MAX_BACKOFF``.
    """
    backoff = 1.0
    ticks = 0
    while not stop.is_set():
        try:
            for name in schedule.run_due(claimer=claimer):
                if on_start:
                    on_start(name)
            until = schedule.seconds_until_due()
            pause = tick if until is None else min(tick, max(until, 0.5))
            backoff = 1.0
        except DatabaseError as exc:
            logger.warning(
                "clock: database error (%s: %s); retrying in %.0f s",
                type(exc).__name__,
                exc,
                backoff,
            )
            _drop_broken_connections()
            pause = backoff
            backoff = min(backoff * 2, MAX_BACKOFF)
        except Exception:
            # Not the database (a task queue out of reach, a bug in a job's enqueue):
            # keep the other jobs going.
            logger.exception("clock: could not start the due jobs; retrying in %.0f s", backoff)
            pause = backoff
            backoff = min(backoff * 2, MAX_BACKOFF)
        ticks += 1
        if max_ticks is not None and ticks >= max_ticks:
            return
        stop.wait(pause)


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (retention, event reminders, ...) when they are due. Run "
        "it next to the workers; several clocks on several machines are safe."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Start what is due now, then exit (for cron)."
        )
        parser.add_argument(
            "--tick",
            type=float,
            default=30.0,
            help="Longest sleep between two looks at the schedule, in seconds (default 30).",
        )

    def handle(self, *args, once: bool = False, tick: float = 30.0, **options):
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        claimer = f"{socket.gethostname()}:{os.getpid()}"
        names = ", ".join(job.name for job in schedule.jobs()) or "none"
        self.stdout.write(f"clock: jobs {names}")
        frequent = {job.name for job in schedule.jobs() if job.every <= schedule.QUIET_BELOW}

        def announce(name: str) -> None:
            if name not in frequent:
                self.stdout.write(f"clock: started {name}")

        clock_loop(
            stop=stop,
            tick=max(tick, 1.0),
            claimer=claimer,
            on_start=announce,
            max_ticks=1 if once else None,
        )
