"""Action Network's ``?background_processing=true`` for API writes.

Action Network lets a client add ``background_processing=true`` to the address of a
write helper (the person signup helper, record helpers, PUT on a person, tagging
create and delete). The server then answers at once with ``200 OK`` and an empty JSON
object and makes the write later, in its queue; the client never learns the new
record's id or any error. Clarion does the same through the Django Tasks API.

Using it from a view (any app's ``apis.py``)::

    from clarion.api import background
    from clarion.api.views import endpoint, json_body

    @background.writer("petitions.signature", resource="people")
    def _sign_later(key, *, page_id, data):   # runs in the worker
        signature_api_create(key=key, page=..., data=data)

    @endpoint(methods=("POST",), resource="people")
    def signatures(request, key, page_id):
        data = json_body(request)              # malformed JSON is still refused at once
        if background.requested(request):
            return background.queue(key=key, name="petitions.signature",
                                    page_id=int(page_id), data=data)
        # … the write itself, as without background processing

The API's own writers (``people.signup``, ``people.update``, ``tags.tagging``) are
registered at the end of ``clarion/api/services.py``.

- ``writer(name, resource=...)`` registers the function that makes the write. It is
  called as ``fn(key, **payload)`` with the API key re-read from the database, must
  raise ``ApiError`` or ``ValidationError`` for a client mistake, and must be safe to
  run twice (an upsert, ``get_or_create``): the marker below makes a second run after
  a committed one a no-op, but two workers racing on the same job before either
  committed both run it.
- ``queue(key=..., name=..., **payload)`` checks the key may write now, enqueues the
  ``background_write`` task and returns the response Action Network gives (200, ``{}``).
  The payload must be JSON-safe (it is stored by the task backend); pass ids, not
  model instances. Only registered names can be queued, so a stored payload can never
  name arbitrary code.

In the worker, ``background_write``:

1. re-reads the key: a key revoked since, an owner deactivated or demoted to read
   only, or a key no longer allowed the writer's resource, makes the job fail;
2. runs the writer inside one transaction together with an audit-log marker
   (``object_type="api_background"``, ``object_id`` the job id), so a retried task
   skips a job that already committed;
3. a client mistake (bad payload, a person outside the key's area, an unknown tag) is
   not an error of the system: it is logged at WARNING and written to the audit log
   as "API background write rejected" with the message the client would have got,
   where staff can see it, and the task ends normally. Anything else is logged with
   its traceback, recorded the same way, and re-raised so the task backend marks the
   task failed.

The scope of the write is the scope the key has when the job runs, not when it was
queued, since every writer reaches people through ``api_people(key)``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django_tasks import task

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record

from .errors import ApiError
from .models import ApiKey

log = logging.getLogger(__name__)

PARAMETER = "background_processing"
TRUE_VALUES = {"true", "1", "yes"}
MARKER_TYPE = "api_background"


@dataclass(frozen=True)
class Writer:
    name: str
    resource: str | None
    fn: Callable[..., Any]


_WRITERS: dict[str, Writer] = {}


def writer(name: str, *, resource: str | None = None):
    """Register ``fn`` as the background write called ``name`` (unique project-wide).
    ``resource`` is the API resource the key must be allowed (``ApiKey.allows``)."""

    def decorate(fn):
        existing = _WRITERS.get(name)
        if existing is not None and existing.fn is not fn:
            qualname = f"{fn.__module__}.{fn.__qualname__}"
            if f"{existing.fn.__module__}.{existing.fn.__qualname__}" != qualname:
                raise ValueError(f"A background writer named {name!r} is already registered.")
        _WRITERS[name] = Writer(name=name, resource=resource, fn=fn)
        return fn

    return decorate


def _lookup(name: str) -> Writer | None:
    if name not in _WRITERS:
        # A worker that never served a request has not imported the API views yet;
        # the API URLconf imports every app's apis.py, and with them their writers.
        importlib.import_module("clarion.api.urls")
    return _WRITERS.get(name)


def requested(request) -> bool:
    """Whether the client asked for background processing (``?background_processing=true``;
    Parsons sometimes sends ``True``)."""
    return request.GET.get(PARAMETER, "").strip().lower() in TRUE_VALUES


def _refuse_unless_allowed(key: ApiKey, found: Writer) -> None:
    if not key.is_active:
        raise ApiError(401, _("This API key has been revoked."))
    if not key.can_write:
        raise ApiError(403, _("This API key is read only."))
    if found.resource is not None and not key.allows(found.resource):
        raise ApiError(
            403, _("This API key may not use %(resource)s.") % {"resource": found.resource}
        )


def queue(*, key: ApiKey, name: str, **payload: Any) -> JsonResponse:
    """Queue the registered write ``name`` for ``key`` and answer as Action Network does:
    ``200`` with an empty JSON object. Raises ApiError when the key may not make the write
    or the queue cannot take it (503), so nothing is promised that will not be tried."""
    from . import hal

    found = _lookup(name)
    if found is None:
        raise LookupError(f"No background writer is registered as {name!r}.")
    _refuse_unless_allowed(key, found)
    job = uuid.uuid4().hex
    try:
        # Outside a transaction on_commit runs at once, so a queue that is down is
        # reported to the client here rather than after a 200.
        transaction.on_commit(
            lambda: background_write.enqueue(name=name, key_id=key.pk, payload=payload, job=job)
        )
    except Exception:
        log.exception("Could not queue background API write %s", name)
        raise ApiError(
            503, _("The request could not be queued; try again, or without background processing.")
        ) from None
    return hal.hal_response({})


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)
    if isinstance(exc, PermissionDenied):
        return _("This API key may not make this change.")
    return exc.__class__.__name__


def _record(*, key: ApiKey | None, name: str, job: str, outcome: str, error: str = "") -> None:
    prefix = key.prefix if key is not None else "?"
    summary = f"API background write {name} {outcome} (key {prefix})"
    if error:
        summary += f": {error}"
    audit_record(
        actor=key.owner if key is not None else None,
        action=AuditEntry.Action.OTHER,
        summary=summary,
        object_type=MARKER_TYPE,
        object_id=job,
        detail={"writer": name, "outcome": outcome, "error": error[:300], "key": prefix},
    )


def _settled(job: str) -> bool:
    """Whether ``job`` already ran to an end (a failed run may be retried)."""
    return AuditEntry.objects.filter(
        object_type=MARKER_TYPE, object_id=job, detail__outcome__in=["done", "rejected"]
    ).exists()


def run(*, name: str, key_id: int, payload: dict, job: str) -> str:
    """Make one queued write (what the task does). Returns "done", "duplicate" or
    "rejected: <reason>"; re-raises unexpected errors after recording them."""
    if _settled(job):
        return "duplicate"
    key = ApiKey.objects.select_related("owner", "owner__area", "area").filter(pk=key_id).first()
    try:
        found = _lookup(name)
        if found is None:
            raise ApiError(400, _("Unknown background write %(name)s.") % {"name": name})
        if key is None:
            raise ApiError(401, _("This API key no longer exists."))
        _refuse_unless_allowed(key, found)
        try:
            if not isinstance(payload, dict):
                raise TypeError
            inspect.signature(found.fn).bind(key, **payload)
        except TypeError:
            raise ApiError(400, _("The queued request is malformed.")) from None
        with transaction.atomic():
            # The key row is the lock: jobs of one key run one at a time, so the
            # marker check below cannot race a copy of this job.
            ApiKey.objects.select_for_update().filter(pk=key.pk).first()
            if _settled(job):
                return "duplicate"
            found.fn(key, **payload)
            _record(key=key, name=name, job=job, outcome="done")
        return "done"
    except (ApiError, ValidationError, PermissionDenied) as exc:
        error = _message(exc)
        log.warning("Background API write %s (job %s) rejected: %s", name, job, error)
        _record(key=key, name=name, job=job, outcome="rejected", error=error)
        return f"rejected: {error}"
    except Exception as exc:
        log.exception("Background API write %s (job %s) failed", name, job)
        _record(key=key, name=name, job=job, outcome="failed", error=_message(exc))
        raise


@task()
def background_write(name: str, key_id: int, payload: dict, job: str) -> str:
    return run(name=name, key_id=key_id, payload=payload, job=job)
