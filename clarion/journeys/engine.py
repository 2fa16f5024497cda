"""The engine: claim due enrolments in batches and move each on by one or more steps.

Locking and ordering rules (a step is never run twice, and never skipped):

- A batch is ONE transaction. It starts by claiming up to ``batch`` due enrolments
  (active, ``next_run_at <= now``, journey published): on PostgreSQL with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers on any number of
  machines take disjoint batches; on SQLite the transaction is ``BEGIN IMMEDIATE``
  (settings), so a second worker waits for the database write lock and then finds
  the rows already moved on.
- Each enrolment is advanced in a savepoint: every step's effect (a tag, a to-do, a
  row in an email step's mailing ledger), its ``StepRun`` row and the enrolment's new
  position commit together with the batch or not at all. A worker killed at any
  moment before the commit leaves no trace, and the enrolment is claimed again; after
  the commit the step is recorded as run and is never run again. ``StepRun`` is
  unique per (enrolment, seq), and the enrolment's update is conditional on the
  ``seq`` it read, as a second guard.
- Emails: the step only writes the ledger row (``mailings.single``); the mailing
  senders deliver it with the ledger's own at-most-once rules. The standing mailings
  touched by the batch are woken (their row lock taken) once, in id order, at the
  end of the batch, so two workers never wait on each other's mailings in a cycle.
- A step that raises is rolled back alone (its savepoint); the enrolment is retried
  after ``RETRY_AFTER`` and the error is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .models import Enrolment, Journey, Step, StepRun
from .steps import Context, person_matches, step_type

log = logging.getLogger(__name__)

MAX_STEPS_PER_RUN = 50
RETRY_AFTER = timedelta(minutes=10)
RUNNING = (Journey.Status.PUBLISHED,)


class _Raced(Exception):
    """The enrolment moved on under us (cannot happen while we hold its lock)."""


@dataclass
class _Version:
    by_id: dict[int, Step]
    goals: list[Step] = field(default_factory=list)


def _version(cache: dict, journey_id: int, version: int) -> _Version:
    key = (journey_id, version)
    if key not in cache:
        steps = list(Step.objects.filter(journey_id=journey_id, version=version))
        cache[key] = _Version(
            by_id={s.pk: s for s in steps}, goals=[s for s in steps if s.type == "goal"]
        )
    return cache[key]


def claim(*, batch: int, now) -> list[Enrolment]:
    """Lock and return up to ``batch`` due enrolments (call inside a transaction)."""
    qs = (
        Enrolment.objects.filter(
            state=Enrolment.State.ACTIVE, next_run_at__lte=now, journey__status__in=RUNNING
        )
        .order_by("next_run_at", "id")
        .select_related("person", "person__area")
    )
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs[:batch])


def advance_due(*, batch: int = 200, now=None) -> int:
    """Claim one batch of due enrolments and advance them; returns how many were
    claimed (0: nothing is due)."""
    now = now or timezone.now()
    cache: dict = {}
    with transaction.atomic():
        enrolments = claim(batch=batch, now=now)
        ledger: dict[int, int] = {}
        for enrolment in enrolments:
            mine: dict[int, int] = {}
            try:
                with transaction.atomic():
                    _advance(enrolment, now=now, cache=cache, ledger=mine)
            except Exception:
                log.exception("journey enrolment %s: step failed; retried later", enrolment.pk)
                Enrolment.objects.filter(pk=enrolment.pk).update(next_run_at=now + RETRY_AFTER)
                continue
            for mailing_id, n in mine.items():
                ledger[mailing_id] = ledger.get(mailing_id, 0) + n
        if ledger:
            from clarion.mailings.single import ledger_wake

            for mailing_id in sorted(ledger):
                ledger_wake(mailing_id=mailing_id, added=ledger[mailing_id])
    return len(enrolments)


def advance_all(*, batch: int = 200, seconds: float = 20.0) -> int:
    """Batches until nothing is due or ``seconds`` have passed; returns how many
    enrolments were advanced. Also wakes standing mailings a sender finished early."""
    started = time.monotonic()
    total = 0
    sweep()
    while True:
        n = advance_due(batch=batch)
        total += n
        if n < batch or time.monotonic() - started > seconds:
            return total


def sweep() -> int:
    from clarion.mailings.single import ledger_sweep

    ids = Step.objects.filter(type="email", mailing__isnull=False).values_list(
        "mailing_id", flat=True
    )
    return ledger_sweep(list(ids))


def _advance(enrolment: Enrolment, *, now, cache: dict, ledger: dict[int, int]) -> None:
    version = _version(cache, enrolment.journey_id, enrolment.version)
    person = enrolment.person
    seq0 = enrolment.seq

    def record(step: Step, outcome: str, detail: str = "", recipient=None) -> None:
        enrolment.seq += 1
        StepRun.objects.create(
            enrolment=enrolment,
            step=step,
            seq=enrolment.seq,
            outcome=outcome,
            detail=detail[:300],
            recipient=recipient,
            created_at=now,
        )

    def finish(state: str) -> None:
        enrolment.state = state
        enrolment.done_at = now
        enrolment.next_run_at = None
        enrolment.waiting = False

    for _ in range(MAX_STEPS_PER_RUN):
        step = version.by_id.get(enrolment.step_id) if enrolment.step_id else None
        if step is None:  # the step it stood on is gone: the journey ends for it here
            finish(Enrolment.State.COMPLETED)
            break
        goal = next(
            (g for g in version.goals if person_matches(person, g.config["definition"])), None
        )
        if goal is not None:
            record(goal, StepRun.Outcome.CONVERTED)
            enrolment.step_id = goal.pk
            finish(Enrolment.State.CONVERTED)
            break
        if enrolment.waiting:  # the wait is over
            enrolment.waiting = False
            record(step, StepRun.Outcome.DONE)
            follow = "next"
        else:
            stype = step_type(step.type)
            if stype is None:
                raise ValueError(f"unknown step type {step.type!r}")
            ctx = Context(enrolment=enrolment, person=person, step=step, now=now, ledger=ledger)
            result = stype.run(ctx)
            record(step, result.outcome, result.detail, result.recipient)
            if result.state:
                finish(result.state)
                break
            if result.wait_until is not None and result.wait_until > now:
                enrolment.waiting = True
                enrolment.next_run_at = result.wait_until
                break
            if result.wait_until is not None:  # a date already past: go straight on
                record(step, StepRun.Outcome.DONE)
            follow = result.follow
        target = getattr(step, f"{follow}_id") if follow else None
        if target is None:
            finish(Enrolment.State.COMPLETED)
            break
        enrolment.step_id = target
    else:
        # A loop of steps without a wait: stop for now, go on in the next batch.
        enrolment.next_run_at = now
    updated = Enrolment.objects.filter(pk=enrolment.pk, seq=seq0).update(
        step_id=enrolment.step_id,
        state=enrolment.state,
        waiting=enrolment.waiting,
        seq=enrolment.seq,
        next_run_at=enrolment.next_run_at,
        done_at=enrolment.done_at,
    )
    if updated != 1:
        raise _Raced(enrolment.pk)
