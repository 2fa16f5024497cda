"""Background work for action pages. Tasks take ids and may run twice without harm:
each claims its send with a conditional update before sending, and gives the claim
back if sending fails so a retry sends it."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from .models import ActionPage, Submission


def _claim(submission_id: int, field: str) -> Submission | None:
    claimed = Submission.objects.filter(
        Q(pk=submission_id) & Q(**{f"{field}__isnull": True})
    ).update(**{field: timezone.now()})
    if not claimed:
        return None
    return Submission.objects.select_related("page", "person").get(pk=submission_id)


def _release(submission_id: int, field: str) -> None:
    Submission.objects.filter(pk=submission_id).update(**{field: None})


@task()
def submission_email(submission_id: int) -> str:
    """Send the confirmation email (double opt-in, still pending) or the thank-you."""
    from . import emails

    submission = _claim(submission_id, "email_sent_at")
    if submission is None:
        return "already sent"
    if (
        submission.person is None
        or not submission.person.email
        or submission.status == Submission.Status.INVALID
    ):
        return "nothing to send"
    try:
        if submission.status == Submission.Status.PENDING:
            emails.confirmation_email_send(submission)
            return "confirmation sent"
        emails.thanks_email_send(submission)
        return "thanks sent"
    except Exception:
        _release(submission_id, "email_sent_at")
        raise


@task()
def letter_deliver(submission_id: int) -> str:
    """Deliver a confirmed letter to the page's target."""
    from . import emails

    submission = _claim(submission_id, "letter_sent_at")
    if submission is None:
        return "already sent"
    if (
        submission.page.kind != ActionPage.Kind.LETTER
        or not submission.page.target_email
        or submission.status != Submission.Status.CONFIRMED
    ):
        _release(submission_id, "letter_sent_at")
        return "not deliverable"
    try:
        emails.letter_email_send(submission)
    except Exception:
        _release(submission_id, "letter_sent_at")
        raise
    return "letter sent"


@task()
def submissions_intake_process(batch: int = 100, seconds: float = 30.0) -> int:
    """Process the rows waiting in intake, a batch (one transaction) at a time, until
    none is left or ``seconds`` have passed; returns how many rows were claimed.

    Queued by ``services.intake_kick`` after a public form commits (and by itself
    when its time runs out with rows left), and every minute by the
    ``actions.intake`` clock job, which picks up anything left behind."""
    import time

    from django.core.cache import cache

    from . import services

    # From now on a new intake row queues another run (see intake_kick).
    cache.delete(services.INTAKE_KICK_KEY)
    deadline = time.monotonic() + seconds
    total = 0
    while True:
        claimed = services.submissions_process(limit=batch)
        total += claimed
        if claimed < batch:
            return total
        if time.monotonic() >= deadline:
            # Out of time with rows left: queue the next run now rather than leave
            # them for the clock job.
            services.intake_kick()
            return total
