"""Private file storage: files that hold personal data (imports, reject files, exports).

They live under ``CLARION_PRIVATE_ROOT`` (default ``var/private``), outside
``MEDIA_ROOT`` (settings refuse a root inside it), so no static or media route can
ever serve them; staff fetch them only through views that check scope and write the
audit log (``clarion.people.imports.views``). Never use ``.url`` of a private file:
with no base URL of its own, Django's file storage falls back to MEDIA_URL, where
nothing answers for these names. Names
are random (the name a person gave the file is kept on the row, not in the path), so
one file's name says nothing about another's. Public media (hero and share images)
stay in the ``default`` storage under ``MEDIA_URL``.

The backend is a setting (``STORAGES["private"]``), so an object store with private
ACLs can replace the file system on a multi-machine install.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import PurePosixPath

from django.core.files.storage import Storage, storages
from django.utils import timezone

# Folders of the default storage that are public by design (served under MEDIA_URL to
# anyone): action pages' hero images. Anything else under MEDIA_URL is not meant to be
# public, and the two-factor middleware does not wave it through.
PUBLIC_MEDIA_PREFIXES = ("actions/hero/",)


def private_storage() -> Storage:
    """The storage for private files (a callable, so the setting is read at run time)."""
    return storages["private"]


def storage_walk(storage: Storage, top: str = "") -> Iterator[str]:
    """Every file name under ``top`` in ``storage``, depth first (``top`` may be missing)."""
    try:
        dirs, files = storage.listdir(top)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{top}/{name}" if top else name
    for name in sorted(dirs):
        yield from storage_walk(storage, f"{top}/{name}" if top else name)


def private_name(prefix: str, filename: str) -> str:
    """``<prefix>/<yyyy>/<mm>/<random>.<ext>``: unguessable, keeping only the extension."""
    suffix = PurePosixPath(filename or "").suffix.lower()
    if not suffix or len(suffix) > 8 or not suffix[1:].isalnum():
        suffix = ".bin"
    now = timezone.now()
    return f"{prefix}/{now:%Y/%m}/{secrets.token_urlsafe(24)}{suffix}"


def import_upload_to(instance, filename: str) -> str:
    return private_name("imports", filename)


def rejects_upload_to(instance, filename: str) -> str:
    return private_name("imports/rejects", filename)
