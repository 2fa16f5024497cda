"""``clarion serve``: the web server (gunicorn) and a task worker, together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Clarion with gunicorn and start a task worker beside it."

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
        procs: list[subprocess.Popen] = []
        web = [
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
        ]
        procs.append(subprocess.Popen(web))
        if not no_worker and settings.TASK_BACKEND != "immediate":
            procs.append(subprocess.Popen([python, "-m", "clarion.cli", "worker"]))
        self.stdout.write(f"Clarion is running at http://{host}:{port}/  (Ctrl-C stops it)")
        if settings.DEMO:
            from .load_demo import DEMO_ADMIN, DEMO_PASSWORD

            self.stdout.write(f"Log in as {DEMO_ADMIN} with password {DEMO_PASSWORD}")

        def stop(*_args):
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(proc.poll() is None for proc in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        failed = [
            proc.returncode for proc in procs if proc.returncode not in (0, -signal.SIGTERM, None)
        ]
        if failed:
            sys.exit(1)
