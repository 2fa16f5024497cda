from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .models import AuditEntry, User


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # REMOTE_ADDR is set by the server; behind a proxy, CLARION_BEHIND_PROXY makes
    # the proxy's X-Forwarded-For trusted by the operator's own proxy configuration.
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: User | None,
    action: str,
    summary: str = "",
    object_type: str = "",
    object_id: Any = "",
    detail: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one entry to the audit log. Runs inside the caller's transaction."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        summary=summary[:500],
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        detail=detail or {},
        ip_address=client_ip(request),
    )
