"""What donations tell the retention policy (``people.retention``): any gift or
attempt inside the window is activity; a gift inside the record-keeping period, or a
monthly gift still running, keeps the donor."""

from __future__ import annotations

from clarion.people import retention

from .models import Donation, RecurringPlan

retention.keeper_register(
    "donations.recent",
    reason=retention.ACTIVITY,
    rows=lambda c: Donation.objects.filter(created_at__gte=c.active_since),
)
retention.keeper_register(
    "donations.record",
    reason=retention.DONATION,
    rows=lambda c: Donation.objects.filter(
        created_at__gte=c.donation_since,
        status__in=[Donation.Status.SUCCEEDED, Donation.Status.REFUNDED],
    ),
)
retention.keeper_register(
    "donations.recurring",
    reason=retention.DONATION,
    rows=lambda c: RecurringPlan.objects.filter(status=RecurringPlan.Status.ACTIVE),
)
