"""Background work of membership dues. Each task takes ids and may run twice without
harm (see ``stops.stop_attempt``)."""

from __future__ import annotations

from django_tasks import task

from . import stops


@task()
def provider_stop(stop_id: int) -> str:
    """Stop one provider subscription; a failure queues the next attempt itself."""
    return stops.stop_attempt(stop_id=stop_id)


@task()
def provider_stops_due() -> int:
    """The ``members.provider_stops`` job: queue the stops that are due."""
    return stops.stops_due()
