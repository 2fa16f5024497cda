"""Background work for journeys. Each task may run twice without harm: the engine
claims enrolments with row locks and records every step with its effect."""

from __future__ import annotations

from django_tasks import task


@task()
def journeys_advance(batch: int = 500, seconds: float = 20.0) -> str:
    """Advance every due enrolment, in batches of ``batch``, for up to ``seconds``
    (the schedule and the triggers enqueue it again), and the test runs whose
    shortened wait is over (``testruns``)."""
    from .engine import advance_all
    from .testruns import advance_due

    advanced = advance_all(batch=batch, seconds=seconds)
    return f"advanced {advanced}, test runs {advance_due()}"


@task()
def journeys_poll_triggers() -> str:
    """Run the scheduled triggers (no-show, clicked a mailing, entered a segment) of
    every published journey once; each keeps a cursor, so a second run finds nothing
    new."""
    from .triggers import poll_all

    return f"entered {poll_all()}"
