"""An import's private files: handing them to staff, and moving old installs' files.

Both files of an import (the upload, and the reject file the run writes) live in the
private storage (``clarion.core.storage``): no URL serves them. Staff fetch them only
through ``import_file_open``, after ``selectors.access_import_job`` has checked their
reach; each fetch is audited.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.core.files import File
from django.core.files.storage import default_storage
from django.http import HttpRequest
from django.utils.translation import gettext as _

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.core.storage import private_name, private_storage, storage_walk
from clarion.people.models import ImportJob

UPLOAD = "upload"
REJECTS = "rejects"
# kind -> (field on ImportJob, folder in the private storage)
KINDS = {UPLOAD: ("file", "imports"), REJECTS: ("rejects", "imports/rejects")}
# The folder of both kinds in the private storage (rejects are a sub-folder).
PRIVATE_FOLDER = "imports"
# Where files of ImportJob rows were stored before they moved to the private storage.
LEGACY_PUBLIC_FOLDER = "imports"


class PrivateFileMissing(Exception):
    """The job has no such file (never written, or deleted by the retention rule)."""


def download_name(original_name: str, *, kind: str) -> str:
    """A file name for Content-Disposition, built from the name the user gave.

    Only letters, digits, spaces, dots, dashes and underscores survive, so no quote,
    slash, control character or line break reaches the header; ``.csv`` is kept once.
    """
    base = unicodedata.normalize("NFKC", original_name).replace("\\", "/").rsplit("/", 1)[-1]
    if base.lower().endswith(".csv"):
        base = base[:-4]
    base = re.sub(r"[^\w.\- ]+", "_", base)
    base = re.sub(r"\s+", " ", base).strip(" ._-")[:80].strip(" ._-") or "import"
    if kind == REJECTS:
        base = _("%(name)s-rejects") % {"name": base}
    return f"{base}.csv"


def import_file_open(
    *, actor, job: ImportJob, kind: str, request: HttpRequest | None = None
) -> tuple[File, str]:
    """Open one of ``job``'s files for ``actor`` and audit the download.

    Precondition: ``job`` came from ``access_import_job(actor, …)``; this does not check
    reach again. Returns the open file (the caller closes it, as FileResponse does) and
    the name to offer. Raises PrivateFileMissing when there is no file to give, in which
    case nothing is audited.
    """
    field_name, _folder = KINDS[kind]
    field = getattr(job, field_name)
    if not field:
        raise PrivateFileMissing(kind)
    try:
        handle = field.storage.open(field.name, "rb")
    except FileNotFoundError as exc:
        raise PrivateFileMissing(kind) from exc
    what = _("uploaded file") if kind == UPLOAD else _("reject file")
    audit_record(
        actor=actor,
        action=AuditEntry.Action.EXPORT,
        summary=_("Downloaded the %(what)s of import %(name)s")
        % {"what": what, "name": job.original_name},
        object_type="importjob",
        object_id=job.pk,
        detail={"file": kind},
        request=request,
    )
    return handle, download_name(job.original_name, kind=kind)


@dataclass
class MoveResult:
    moved: int = 0
    already_private: int = 0
    missing: int = 0
    unreferenced: int = 0


def private_files_move() -> MoveResult:
    """Move import files stored by an older Clarion under MEDIA_ROOT (public, original
    names) into the private storage under random names, and point the rows at them.

    Idempotent: a file already in the private storage is left alone, so a second run
    moves nothing. Files under the old ``imports/`` folder that no row refers to (left
    by deleted jobs) move too, so nothing personal stays public; the retention purge
    deletes them later. Each file is copied, the row updated (only if it still names
    the old file), then the public copy deleted; if the run stops half way, the next
    run finishes it. One audit entry records the counts.
    """
    public, private = default_storage, private_storage()
    result = MoveResult()
    jobs = ImportJob.objects.only("pk", "file", "rejects").order_by("pk")
    for job in jobs.iterator():
        for field_name, folder in KINDS.values():
            name = getattr(job, field_name).name
            if not name:
                continue
            if private.exists(name):
                result.already_private += 1
            elif not public.exists(name):
                result.missing += 1
            else:
                with public.open(name, "rb") as source:
                    new_name = private.save(private_name(folder, name), source)
                changed = ImportJob.objects.filter(pk=job.pk, **{field_name: name}).update(
                    **{field_name: new_name}
                )
                if changed:
                    public.delete(name)
                    result.moved += 1
                else:  # the row changed meanwhile (purged, or moved by another run)
                    private.delete(new_name)
    # Whatever is left in the old folder now is named by no row.
    for name in storage_walk(public, LEGACY_PUBLIC_FOLDER):
        with public.open(name, "rb") as source:
            private.save(private_name(LEGACY_PUBLIC_FOLDER, name), source)
        public.delete(name)
        result.unreferenced += 1
    if result.moved or result.unreferenced:
        audit_record(
            actor=None,
            action=AuditEntry.Action.OTHER,
            summary=_(
                "Moved %(moved)s import file(s) and %(other)s unreferenced file(s) "
                "out of public media"
            )
            % {"moved": result.moved, "other": result.unreferenced},
            object_type="importjob",
            detail={"moved": result.moved, "unreferenced": result.unreferenced},
        )
    return result
