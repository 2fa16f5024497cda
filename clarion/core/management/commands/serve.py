"""``clarion serve``: the web server (gunicorn), a task worker and the clock, supervised.

A child that exits on its own (a crash, a kill, a lost service it could not ride out)
is started again after a back-off (bounded exponential with jitter, reset once the
child has stayed up a minute), so one failure never takes the site down. SIGTERM or
SIGINT stops every child and then ``serve`` itself, with exit status 0 when all
stopped cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

from clarion.core.faults import Backoff

# A child that stayed up this long is healthy again: its back-off starts over.
HEALTHY_SECONDS = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))


class Command(BaseCommand):
    help = "Serve Clarion with gunicorn, a task worker and the clock, restarting any that dies."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
        )
        parser.add_argument("--no-worker", action="store_true", help="Start the web server only.")

    def handle(self, *args, host: str, port: int, workers: int, no_worker: bool, **options):
        call_command("collectstatic", "--noinput", verbosity=0)
        python = sys.executable
        children = [
            Child(
                "web",
                [
                    python,
                    "-m",
                    "gunicorn",
                    "clarion.wsgi:application",
                    "--bind",
                    f"{host}:{port}",
                    "--workers",
                    str(workers),
                    "--access-logfile",
                    "-",
                    "--graceful-timeout",
                    "10",
                ],
            )
        ]
        if not no_worker and settings.TASK_BACKEND != "immediate":
            children.append(Child("worker", [python, "-m", "clarion.cli", "worker"]))
        if not no_worker and "clock" in get_commands():
            children.append(Child("clock", [python, "-m", "clarion.cli", "clock"]))

        stopping = False

        def stop(*_args):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        for child in children:
            self._start(child)
        self._say(f"Clarion is running at http://{host}:{port}/  (Ctrl-C stops it)")
        if settings.DEMO:
            from clarion.core.demo import DEMO_ADMIN, DEMO_PASSWORD

            self._say(f"Log in as {DEMO_ADMIN} with password {DEMO_PASSWORD}")

        while not stopping:
            now = time.monotonic()
            for child in children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self._start(child)
                elif child.proc is not None and child.proc.poll() is not None:
                    if now - child.started_at >= HEALTHY_SECONDS:
                        child.backoff.reset()
                    delay = child.backoff.next()
                    child.restart_at = now + delay
                    self._say(
                        f"{child.name} (pid {child.proc.pid}) exited with status "
                        f"{child.proc.returncode}; starting it again in {delay:.1f} s",
                        error=True,
                    )
            time.sleep(0.2)

        self._say("Stopping Clarion")
        running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        give_up = time.monotonic() + STOP_TIMEOUT
        unclean = False
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                unclean = True
            else:
                unclean |= proc.returncode not in (0, -signal.SIGTERM, -signal.SIGINT)
        if unclean:
            sys.exit(1)

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv)
        child.started_at = time.monotonic()
        child.restart_at = None
        self._say(f"started {child.name} (pid {child.proc.pid})")

    def _say(self, message: str, *, error: bool = False) -> None:
        out = self.stderr if error else self.stdout
        out.write(message)
        out.flush()
