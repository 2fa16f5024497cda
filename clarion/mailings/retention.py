"""What mailings tell the retention policy (``people.retention``): opening, clicking
(by a person, not a mail scanner), unsubscribing or choosing preferences inside the
window is activity. Being sent mail is not."""

from __future__ import annotations

from clarion.people import retention

from .models import Event, OptOut

retention.keeper_register(
    "mailings.engagement",
    reason=retention.ACTIVITY,
    rows=lambda c: Event.objects.filter(
        created_at__gte=c.active_since,
        machine=False,
        kind__in=[Event.Kind.OPEN, Event.Kind.CLICK, Event.Kind.UNSUBSCRIBE],
    ),
    person_field="recipient__person",
)
retention.keeper_register(
    "mailings.preferences",
    reason=retention.ACTIVITY,
    rows=lambda c: OptOut.objects.filter(created_at__gte=c.active_since),
)
