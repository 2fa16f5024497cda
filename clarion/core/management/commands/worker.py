from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a background task worker for the configured task backend (database or RQ)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(self, *args, batch: bool = False, **options):
        if settings.TASK_BACKEND == "rq":
            argv = ["rqworker", "default", "--job-class", "django_tasks_rq.Job"]
            if batch:
                argv.append("--burst")
            call_command(*argv)
        elif settings.TASK_BACKEND == "immediate":
            self.stdout.write("Tasks run immediately in the web process; no worker is needed.")
        else:
            argv = ["db_worker", "--queue-name", "*", "--no-reload"]
            if batch:
                argv.append("--batch")
            call_command(*argv)
