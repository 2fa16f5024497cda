"""Retention of imports' private files: uploads and reject files are kept for
``CLARION_PRIVATE_FILE_RETENTION_DAYS`` days (30 unless set), then deleted.

The ImportJob row stays, with its name, counts and status, so the import list still
says who imported what and how it went; only the files (which hold the rows as given,
personal data included) go. Run daily: ``clarion purge_private_files``.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.core.storage import private_storage, storage_walk
from clarion.people.models import ImportJob

from .files import KINDS, PRIVATE_FOLDER

log = logging.getLogger(__name__)


def private_files_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete import files whose job was last active before the retention period; return
    how many files were deleted.

    A job's last activity is when it finished, else when it started, else when it was
    uploaded, so a file is never deleted under a running import. The row keeps its
    counts; a job that had not run yet is marked failed, with a message saying the file
    is gone. Each job's change is committed (with its audit entry) before its files are
    deleted; a file whose deletion fails is named by no row any more and goes with the
    sweep of unreferenced files, which deletes any file in the private ``imports/``
    folder that no row names and that is older than the period. Idempotent.
    """
    now = now or timezone.now()
    days = settings.CLARION_PRIVATE_FILE_RETENTION_DAYS
    cutoff = now - datetime.timedelta(days=days)
    storage = private_storage()
    deleted = 0
    stale = (
        ImportJob.objects.exclude(file="", rejects="")
        .annotate(last_active=Coalesce("finished_at", "started_at", "created_at"))
        .filter(last_active__lt=cutoff)
        .values_list("pk", flat=True)
    )
    for pk in list(stale):
        names = _job_files_clear(pk=pk, cutoff=cutoff, days=days, now=now)
        for name in names:
            try:
                storage.delete(name)
            except OSError:
                log.exception("Could not delete private file of import %s", pk)
            else:
                deleted += 1
    deleted += _unreferenced_files_purge(cutoff=cutoff, days=days)
    return deleted


def _job_files_clear(
    *, pk: int, cutoff: datetime.datetime, days: int, now: datetime.datetime
) -> list[str]:
    """Clear the job's file fields (row locked, stale checked again) and audit; return
    the names to delete once committed."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update()
            .annotate(last_active=Coalesce("finished_at", "started_at", "created_at"))
            .filter(pk=pk, last_active__lt=cutoff)
            .first()
        )
        if job is None:
            return []
        names, kinds, fields = [], [], []
        for kind, (field_name, _folder) in KINDS.items():
            name = getattr(job, field_name).name
            if name:
                names.append(name)
                kinds.append(kind)
                fields.append(field_name)
                setattr(job, field_name, "")
        if not names:
            return []
        if job.status not in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            job.status = ImportJob.Status.FAILED
            job.error = _(
                "The uploaded file was deleted %(days)s days after it was uploaded, as "
                "private files are. Upload it again to import it."
            ) % {"days": days}
            job.finished_at = now
            fields += ["status", "error", "finished_at"]
        job.save(update_fields=fields)
        audit_record(
            actor=None,
            action=AuditEntry.Action.DELETE,
            summary=_("Deleted the files of import %(name)s after %(days)s days")
            % {"name": job.original_name, "days": days},
            object_type="importjob",
            object_id=job.pk,
            detail={"files": kinds, "retention_days": days},
        )
    return names


def _unreferenced_files_purge(*, cutoff: datetime.datetime, days: int) -> int:
    """Delete files in the private ``imports/`` folder that no row names and that were
    last written before ``cutoff`` (left by deleted jobs, interrupted moves or failed
    deletions)."""
    storage = private_storage()
    named = ImportJob.objects.filter(~Q(file="") | ~Q(rejects="")).values_list("file", "rejects")
    referenced = {name for pair in named for name in pair if name}
    deleted = 0
    for name in storage_walk(storage, PRIVATE_FOLDER):
        if name in referenced or storage.get_modified_time(name) >= cutoff:
            continue
        storage.delete(name)
        deleted += 1
    if deleted:
        audit_record(
            actor=None,
            action=AuditEntry.Action.DELETE,
            summary=_("Deleted %(count)s unreferenced import file(s) after %(days)s days")
            % {"count": deleted, "days": days},
            object_type="importjob",
            detail={"unreferenced": deleted, "retention_days": days},
        )
    return deleted
