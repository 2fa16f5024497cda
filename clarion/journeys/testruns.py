"""Test runs: a journey in *test* run for one chosen person (``docs/journeys.md``).

A test run (``TestRun``) walks one person through the journey's current version from
its first step, as the engine would, with three differences:

- every wait lasts ``CLARION_JOURNEY_TEST_WAIT_SECONDS`` (a date already past still
  goes straight on); the log keeps when the real wait would have ended;
- every email step sends a copy of its message, merged with the person's fields, to
  the staff member who started the test (``send_to``), its subject marked
  "[TEST]", through ``mailings.services.mailing_test_send_to`` (no ledger row, inert
  tracking links); the person is never mailed;
- steps that would change what is stored about the person (tags, lists, to-dos) only
  say in the log what they would have done (``StepType.rehearse``).

Nothing is written to the enrolments or step runs, so a test run never counts in the
journey's figures, its money, or the "journey" segment condition, and never stops the
person entering the journey for real later.

Locking: ``advance`` moves one run in one transaction with the run's row locked
(``SKIP LOCKED`` on PostgreSQL: a second worker passes it by; SQLite's write lock
serialises), up to its next wait or its end, and records every step in the log in
that transaction. The test emails are sent after the commit, so no database lock is
held while talking to the mail server; a process killed between the commit and the
send loses that test email (it is not sent twice). Test runs are not kill-safe beyond
that, and need not be: they are a preview. The engine's enrolments are untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .models import Journey, Step, TestRun, TestRunEntry
from .steps import Context, people_matching, step_type

log = logging.getLogger(__name__)

MAX_STEPS = 50
Outcome = TestRunEntry.Outcome


def test_wait() -> timedelta:
    """How long every wait lasts in a test run (``CLARION_JOURNEY_TEST_WAIT_SECONDS``)."""
    return timedelta(seconds=int(getattr(settings, "CLARION_JOURNEY_TEST_WAIT_SECONDS", 60)))


@dataclass
class _Email:
    entry_id: int
    step: Step
    real: str


class _Log:
    """The entries a run writes in this transaction, numbered on from its ``seq``."""

    def __init__(self, run: TestRun, now) -> None:
        self.run, self.now = run, now

    def add(self, step: Step | None, outcome: str, detail: str = "") -> TestRunEntry:
        self.run.seq += 1
        return TestRunEntry.objects.create(
            run=self.run,
            seq=self.run.seq,
            step_key=step.key if step else "",
            step_type=step.type if step else "",
            outcome=outcome,
            detail=str(detail)[:300],
            created_at=self.now,
        )


def _finish(run: TestRun, state: str, now) -> None:
    run.state, run.done_at, run.next_run_at, run.waiting = state, now, None, False


def _local(when) -> str:
    return date_format(timezone.localtime(when), "j M Y, H:i:s")


def _move(run: TestRun, now, emails: list[_Email]) -> None:
    """Move ``run`` (locked) on until a wait or its end, logging each step."""
    steps = {s.pk: s for s in Step.objects.filter(journey_id=run.journey_id, version=run.version)}
    goals = [s for s in steps.values() if s.type == "goal"]
    entries = _Log(run, now)
    for _i in range(MAX_STEPS):
        step = steps.get(run.step_id) if run.step_id else None
        if step is None:
            entries.add(None, Outcome.COMPLETED, _("No next step: the journey ends here."))
            _finish(run, TestRun.State.COMPLETED, now)
            return
        if run.waiting:
            run.waiting = False
            entries.add(step, Outcome.WAITED)
            if not _follow(run, step, step.next_id, entries, now):
                return
            continue
        for goal in goals:
            if run.person_id in people_matching([run.person_id], goal.config["definition"]):
                entries.add(goal, Outcome.CONVERTED, _("Reached the goal (a test: not counted)."))
                _finish(run, TestRun.State.CONVERTED, now)
                return
        stype = step_type(step.type)
        if stype is None:
            entries.add(step, Outcome.SKIPPED, _("This kind of step is no longer known."))
            if not _follow(run, step, step.next_id, entries, now):
                return
            continue
        ctx = Context(enrolment=None, person=run.person, step=step, now=now)
        try:
            with transaction.atomic():
                result = stype.rehearse(ctx)
        except Exception:
            log.exception("journey test run %s: step %s failed", run.pk, step.pk)
            entries.add(step, Outcome.STOPPED, _("This step failed; the test stops here."))
            _finish(run, TestRun.State.STOPPED, now)
            return
        if result.wait_until is not None and result.wait_until > now:
            short = now + test_wait()
            entries.add(
                step,
                Outcome.WAITING,
                _("For real until %(real)s; in this test until %(short)s")
                % {"real": _local(result.wait_until), "short": _local(short)},
            )
            run.waiting, run.next_run_at = True, short
            return
        if result.wait_until is not None:  # a date already past: straight on
            entries.add(step, Outcome.DONE, _("The date to wait until has passed."))
            target = step.next_id
        else:
            entry = entries.add(step, result.outcome, result.detail)
            if step.type == "email":
                emails.append(_Email(entry_id=entry.pk, step=step, real=result.detail))
            if result.state:
                converted = result.state == "converted"
                _finish(run, TestRun.State.CONVERTED if converted else TestRun.State.COMPLETED, now)
                return
            target = getattr(step, f"{result.follow}_id") if result.follow else None
        if not _follow(run, step, target, entries, now):
            return
    # A loop of steps without a wait: go on at the next pass.
    run.next_run_at = now


def _follow(run: TestRun, step: Step, target: int | None, entries: _Log, now) -> bool:
    """Stand on ``target``; False (and the run completed) when there is none."""
    if target is None:
        entries.add(step, Outcome.COMPLETED)
        _finish(run, TestRun.State.COMPLETED, now)
        return False
    run.step_id = target
    return True


def _send(run: TestRun, email: _Email) -> None:
    """Send the test copy of one email step to ``run.send_to``; record a failure on
    the log entry (no exception escapes: the run goes on)."""
    from clarion.mailings.models import Mailing
    from clarion.mailings.services import mailing_test_send_to

    c = email.step.config
    mailing = Mailing(
        name=_("Test of a journey email"),
        subject=c["subject"],
        body=c["body"],
        from_name=c["from_name"],
        from_email=c["from_email"],
        category=c.get("category") or "",
        area_id=run.journey.area_id,
    )
    try:
        mailing_test_send_to(
            mailing=mailing, actor=run.started_by, addresses=[run.send_to], person=run.person
        )
    except Exception as exc:
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        log.warning("journey test run %s: test email not sent: %s", run.pk, reason)
        TestRunEntry.objects.filter(pk=email.entry_id).update(
            outcome=Outcome.FAILED, detail=reason[:300]
        )
        return
    TestRunEntry.objects.filter(pk=email.entry_id).update(
        detail=(_("Sent to %(address)s (%(real)s)") % {"address": run.send_to, "real": email.real})[
            :300
        ]
    )


def advance(*, run_id: int, now=None) -> bool:
    """Move one test run on if it is due; returns whether it moved. Sends its test
    emails after the commit (see the module docstring)."""
    now = now or timezone.now()
    emails: list[_Email] = []
    with transaction.atomic():
        qs = TestRun.objects.filter(
            pk=run_id,
            state=TestRun.State.RUNNING,
            next_run_at__lte=now,
            journey__status=Journey.Status.TEST,
        ).select_related("person", "journey", "started_by")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        run = qs.first()
        if run is None:
            return False
        _move(run, now, emails)
        run.save(update_fields=["step", "state", "waiting", "seq", "next_run_at", "done_at"])
    for email in emails:
        _send(run, email)
    return True


def advance_due(*, now=None, limit: int = 100) -> int:
    """Move every due test run on (the clock's ``journeys_advance`` calls this); one
    small indexed query when none is due."""
    now = now or timezone.now()
    ids = list(
        TestRun.objects.filter(state=TestRun.State.RUNNING, next_run_at__lte=now)
        .order_by("next_run_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(advance(run_id=pk, now=now) for pk in ids)
