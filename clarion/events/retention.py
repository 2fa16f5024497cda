"""What events tell the retention policy (``people.retention``): an RSVP, a check-in,
a canvass contact or hosting an event inside the window is activity."""

from __future__ import annotations

from django.db.models import Q

from clarion.people import retention

from .models import CanvassResult, Event, Rsvp

retention.keeper_register(
    "events.rsvps",
    reason=retention.ACTIVITY,
    rows=lambda c: Rsvp.objects.filter(
        Q(created_at__gte=c.active_since) | Q(checked_in_at__gte=c.active_since)
    ),
)
retention.keeper_register(
    "events.canvass",
    reason=retention.ACTIVITY,
    rows=lambda c: CanvassResult.objects.filter(created_at__gte=c.active_since),
)
retention.keeper_register(
    "events.hosting",
    reason=retention.ACTIVITY,
    rows=lambda c: Event.objects.filter(starts_at__gte=c.active_since),
    person_field="host_person",
)
