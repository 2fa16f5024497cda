"""Background work for engagement: the full recompute a settings change starts."""

from __future__ import annotations

from django_tasks import task


@task()
def engagement_recompute() -> str:
    """Rebuild every score with the current settings. Idempotent (a second run gives
    the same rows)."""
    from .services import recompute

    return f"{recompute()} people scored"
