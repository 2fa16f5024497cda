"""Background work for webhooks. The task takes an id and may run twice without harm:
``webhooks.delivery_attempt`` claims the delivery row before it POSTs."""

from __future__ import annotations

from django_tasks import task


@task()
def webhook_deliver(delivery_id: int) -> str:
    """One attempt at one delivery; a failure schedules the next attempt itself."""
    from .webhooks import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)
