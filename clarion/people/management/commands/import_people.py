from __future__ import annotations

import sys
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from clarion.core.models import User
from clarion.people.imports.services import import_job_claim, import_job_create, import_job_run


class Command(BaseCommand):
    help = "Import people from a CSV file (headers such as First Name, Email, Postcode map themselves)."

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="CSV file: UTF-8 or Windows-1252, comma, semicolon or tab separated."
        )
        parser.add_argument(
            "--tag", action="append", default=[], help="Tag every imported person (repeatable)."
        )
        parser.add_argument(
            "--list",
            action="append",
            default=[],
            dest="lists",
            help="Add everyone to this list (repeatable).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would happen; change no people."
        )
        parser.add_argument(
            "--as", dest="actor", default="", help="Email of the staff user to record as importer."
        )

    def handle(
        self,
        *args,
        file: str,
        tag: list[str],
        lists: list[str],
        dry_run: bool,
        actor: str,
        **options,
    ):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        user = None
        if actor:
            user = User.objects.filter(email__iexact=actor, is_active=True).first()
            if user is None:
                raise CommandError(f"No active staff user {actor}")
        with path.open("rb") as handle:
            try:
                job = import_job_create(actor=user, uploaded=File(handle), original_name=path.name)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        job.options = {"tags": tag, "lists": lists, "via": "command"}
        job.dry_run = dry_run
        job.save(update_fields=["options", "dry_run"])
        mapped = [
            f"{h} -> {t}"
            for h, t in zip(job.mapping["headers"], job.mapping["columns"], strict=False)
            if t
        ]
        self.stderr.write(
            f"{path.name}: {job.encoding}, delimiter {job.delimiter!r}; columns: {', '.join(mapped)}"
        )
        job = import_job_claim(job_id=job.pk)
        stderr = self.stderr

        def progress(j):
            stderr.write(
                f"  {j.processed_rows:,} rows: created {j.created_count:,}, updated {j.updated_count:,}, "
                f"unchanged {j.unchanged_count:,}, rejected {j.rejected_count:,}"
            )
            sys.stderr.flush()

        job = import_job_run(job=job, progress=progress)
        if job.status != job.Status.DONE:
            raise CommandError(f"Import failed: {job.error}")
        if dry_run:
            self.stdout.write("Dry run: nothing was written. This is what would happen:")
        self.stdout.write(
            f"created {job.created_count}, updated {job.updated_count}, "
            f"unchanged {job.unchanged_count}, rejected {job.rejected_count}"
        )
        if job.rejects:
            self.stdout.write(f"rejected rows and warnings: {job.rejects.path}")
