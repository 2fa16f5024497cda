"""``clarion purge_private_files``: delete import files past their retention period."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from clarion.people.imports.retention import private_files_purge


class Command(BaseCommand):
    help = (
        "Delete uploaded import files and reject files older than "
        "CLARION_PRIVATE_FILE_RETENTION_DAYS (the imports and their counts stay). "
        "Audited; safe to run any number of times. Run it daily."
    )

    def handle(self, *args, **options):
        deleted = private_files_purge()
        self.stdout.write(
            _("Deleted %(count)s private file(s) older than %(days)s days.")
            % {"count": deleted, "days": settings.CLARION_PRIVATE_FILE_RETENTION_DAYS}
        )
