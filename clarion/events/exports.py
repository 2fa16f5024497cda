"""Exporting an event's RSVPs and making a segment of them (issue 15).

The rows are the event's RSVPs from people in the staff user's scope (``people_for``,
invariant 4), so an organiser exporting a national event gets only their own area's
people. The segment is "RSVP'd to or attended this event" with the registered
``event`` condition; it counts every exported row except cancelled RSVPs of people who
did not come (the condition's ``rsvp`` role leaves cancellations out).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.imports.export import csv_stream, pk_chunks
from clarion.people.models import Segment
from clarion.people.segments.services import segment_create
from clarion.people.selectors import people_for

from .models import Event, Rsvp

HEADER = ("first_name", "last_name", "email", "status", "attended", "rsvp_at")
STATUS = {
    Rsvp.Status.GOING: "going",
    Rsvp.Status.WAITLISTED: "waiting",
    Rsvp.Status.CANCELLED: "cancelled",
}


def rsvps_for_export(user, event: Event) -> QuerySet[Rsvp]:
    """The event's RSVPs from people ``user`` may see."""
    return Rsvp.objects.filter(event=event, person__in=people_for(user).values("pk"))


def _rows(queryset: QuerySet[Rsvp]) -> Iterator[str]:
    return csv_stream(HEADER, _rsvp_cells(queryset))


def _rsvp_cells(queryset: QuerySet[Rsvp]) -> Iterator[list]:
    fields = (
        "pk",
        "person__first_name",
        "person__last_name",
        "person__email",
        "status",
        "attendance",
        "created_at",
    )
    for chunk in pk_chunks(queryset, fields):
        for _pk, first, last_name, email, status, attendance, created in chunk:
            when = timezone.localtime(created).isoformat(timespec="seconds") if created else ""
            attended = "yes" if attendance == Rsvp.Attendance.ATTENDED else "no"
            cells = [first, last_name, email, STATUS.get(status, status), attended, when]
            yield cells


def rsvps_export_stream(*, user, event: Event, request=None) -> Iterator[str]:
    """Audit the export (with its row count) and return the CSV lines to stream. The
    audit entry is written before the first byte leaves."""
    queryset = rsvps_for_export(user, event)
    count = queryset.count()
    audit_record(
        actor=user,
        action=AuditEntry.Action.EXPORT,
        summary=_("Exported %(count)s RSVPs to event %(id)s") % {"count": count, "id": event.pk},
        object_type="event",
        object_id=event.pk,
        detail={"rows": count, "event": event.pk, "via": "web"},
        request=request,
    )
    return _rows(queryset)


def rsvps_segment_create(*, user, event: Event) -> Segment:
    """A saved segment of the people who RSVP'd to or attended ``event``."""
    name = _("RSVP'd to %(title)s") % {"title": event.title}
    return segment_create(
        name=name[:150],
        definition={
            "op": "any",
            "conditions": [
                {"type": "event", "role": "rsvp", "event": event.pk},
                {"type": "event", "role": "attended", "event": event.pk},
            ],
        },
        user=user,
    )
