"""``clarion worker``: run background tasks for the configured task backend.

The worker survives a lost database or Redis: it logs, backs off and carries on
(see ``clarion/core/workers.py``); only a stop signal (or ``--batch`` finishing)
ends it.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string


class Command(BaseCommand):
    help = "Run a background task worker for the configured task backend (database or RQ)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(self, *args, batch: bool = False, **options):
        if settings.TASK_BACKEND == "rq":
            from clarion.core.workers import run_rq_worker

            run_rq_worker(queues=["default"], batch=batch)
        elif settings.TASK_BACKEND == "immediate":
            self.stdout.write("Tasks run immediately in the web process; no worker is needed.")
        else:
            from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS

            from clarion.core.workers import ResilientDBWorker

            worker = ResilientDBWorker(
                queue_names=["*"],
                interval=1.0,
                batch=batch,
                backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                startup_delay=not batch,
                max_tasks=None,
                worker_id=get_random_string(32),
                excluded_queue_names=[],
            )
            worker.configure_signals()
            worker.run()
