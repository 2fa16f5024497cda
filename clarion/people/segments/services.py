"""Writes to saved segments. Definitions are validated (and normalised) before saving."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record

from ..models import Segment
from .compiler import validate_definition


def segment_create(
    *, name: str, description: str = "", definition: dict[str, Any], user
) -> Segment:
    """Save a new segment owned by ``user``'s scope (their area for organisers, None
    for national staff). Raises SegmentDefinitionError for a bad definition."""
    now = timezone.now()
    return Segment.objects.create(
        name=name.strip(),
        description=description.strip(),
        definition=validate_definition(definition),
        owner_area=user.scope_area,
        created_by=user if getattr(user, "pk", None) else None,
        created_at=now,
        modified_at=now,
    )


def segment_update(
    *, segment: Segment, name: str, description: str = "", definition: dict[str, Any]
) -> Segment:
    """Change a segment's name, description and definition; forgets the stored count."""
    segment.name = name.strip()
    segment.description = description.strip()
    segment.definition = validate_definition(definition)
    segment.last_count = None
    segment.last_counted_at = None
    segment.modified_at = timezone.now()
    segment.save()
    return segment


def segment_duplicate(*, segment: Segment, user) -> Segment:
    """A copy named "Copy of …", owned by ``user``'s scope."""
    name = _("Copy of %(name)s") % {"name": segment.name}
    return segment_create(
        name=name[:150], description=segment.description, definition=segment.definition, user=user
    )


@transaction.atomic
def segment_delete(*, segment: Segment, user, ip: str | None = None) -> None:
    audit_record(
        actor=user,
        action=AuditEntry.Action.DELETE,
        summary=_("Deleted segment %(name)s") % {"name": segment.name},
        object_type="segment",
        object_id=segment.pk,
        ip=ip,
    )
    segment.delete()


def segment_record_count(*, segment: Segment, count: int) -> None:
    """Store ``count`` as the segment's last known size (one UPDATE, no other fields)."""
    now = timezone.now()
    Segment.objects.filter(pk=segment.pk).update(last_count=count, last_counted_at=now)
    segment.last_count, segment.last_counted_at = count, now
