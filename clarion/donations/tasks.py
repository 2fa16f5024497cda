"""Background work for donations. Tasks take ids and are safe to run twice."""

from __future__ import annotations

from django_tasks import task


@task()
def donation_receipt_task(donation_id: int) -> str:
    """Email the receipt for ``donation_id``; a second run sends nothing."""
    from .services import receipt_send

    return receipt_send(donation_id=donation_id)


@task()
def plan_gateway_cancel_task(plan_id: int) -> str:
    """Cancel a plan's subscription at its gateway (after a staff cancellation)."""
    from .services import plan_gateway_cancel

    return plan_gateway_cancel(plan_id=plan_id)
