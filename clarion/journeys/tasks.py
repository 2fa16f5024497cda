"""Background work for journeys. Each task may run twice without harm: the engine
claims enrolments with row locks and records every step with its effect."""

from __future__ import annotations

from django_tasks import task


@task()
def journeys_advance() -> str:
    """Advance every due enrolment (for up to a time slice; the schedule and the
    triggers enqueue it again)."""
    from .engine import advance_all

    return f"advanced {advance_all()}"
