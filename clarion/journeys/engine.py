"""The engine: claim due enrolments in batches and move them on, set by set.

Locking and ordering rules (a step is never run twice, and never skipped):

- A batch is ONE transaction. It starts by claiming up to ``batch`` due enrolments
  (active, ``next_run_at <= now``, journey published): on PostgreSQL with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent workers on any number of
  machines take disjoint batches; on SQLite the transaction is ``BEGIN IMMEDIATE``
  (settings), so a second worker waits for the database write lock and then finds
  the rows already moved on.
- The batch moves in rounds, each taking every enrolment still moving one step on:
  goals first (one segment query per goal for the people at that version), then the
  ends of waits, then the rest grouped by the step they stand at, each group run
  set-based by its step type (``StepType.run_many``: one insert of taggings, one
  segment query splitting a decision, one insert of ledger rows), in a savepoint. If
  a group's set run raises, it is rolled back and the group goes person by person
  (``run``, a savepoint each): whoever fails there stays at that step, is retried
  after ``RETRY_AFTER`` and the error is logged; the steps they ran before in this
  batch stand, recorded.
- At the end of the batch every step's ``StepRun`` row is written in one insert and
  the enrolments' new positions in one ``UPDATE`` per distinct position, each
  conditional on the ``seq`` the rows were claimed at (``StepRun`` is unique per
  (enrolment, seq) as well). So every step's effect, its record and the enrolment's
  new position commit together with the batch or not at all: a worker killed at any
  moment before the commit leaves no trace, and the enrolments are claimed again;
  after the commit the steps are recorded as run and never run again.
- Emails: the step only writes ledger rows (``mailings.single``); the mailing
  senders deliver them with the ledger's own at-most-once rules. The standing
  mailings touched by the batch are woken (their row lock taken) once, in id order,
  at the end of the batch, so two workers never wait on each other's mailings in a
  cycle.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .models import Enrolment, Journey, Step, StepRun
from .steps import Context, Result, people_matching, step_type

log = logging.getLogger(__name__)

MAX_STEPS_PER_RUN = 50
RETRY_AFTER = timedelta(minutes=10)
RUNNING = (Journey.Status.PUBLISHED,)
ENROLMENT_FIELDS = ("journey_id", "person_id", "version", "step_id", "state", "waiting", "seq")
ENROLMENT_FIELDS += ("next_run_at", "done_at", "once")
PERSON_FIELDS = ("email", "email_status", "area_id")


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
    """Lock and return up to ``batch`` due enrolments (call inside a transaction).

    The running journeys are read first (a small table) and named by id, so the due
    rows are read in order from ``enrolment_due_order_idx`` and the scan stops at
    ``batch`` rows, however many are due."""
    running = list(Journey.objects.filter(status__in=RUNNING).values_list("pk", flat=True))
    if not running:
        return []
    qs = (
        Enrolment.objects.filter(
            state=Enrolment.State.ACTIVE, next_run_at__lte=now, journey_id__in=running
        )
        .order_by("next_run_at", "id")
        .select_related("person")
        # What the steps read of the person (others load on use, per person).
        .only(*ENROLMENT_FIELDS, *(f"person__{f}" for f in PERSON_FIELDS))
    )
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs[:batch])


def advance_due(*, batch: int = 500, now=None) -> int:
    """Claim one batch of due enrolments and advance them; returns how many were
    claimed (0: nothing is due)."""
    now = now or timezone.now()
    cache: dict = {}
    with transaction.atomic():
        moves = [_Move(e, e.seq) for e in claim(batch=batch, now=now)]
        ledger: dict[int, int] = {}
        for _ in range(MAX_STEPS_PER_RUN):
            moving = [m for m in moves if m.moving]
            if not moving:
                break
            _round(moving, now=now, cache=cache, ledger=ledger)
        for m in moves:
            if m.moving:
                # A loop of steps without a wait: stop for now, go on in the next batch.
                m.enrolment.next_run_at = now
        _save(moves)
        if ledger:
            from clarion.mailings.single import ledger_wake

            for mailing_id in sorted(ledger):
                ledger_wake(mailing_id=mailing_id, added=ledger[mailing_id])
    return len(moves)


def advance_all(*, batch: int = 500, seconds: float = 20.0) -> int:
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


@dataclass
class _Move:
    """One claimed enrolment on its way through this batch: where it stands (on the
    enrolment itself), the ``seq`` it was claimed at, and the step runs to record."""

    enrolment: Enrolment
    seq0: int
    # (enrolment, step, seq, outcome, detail, recipient, created_at): StepRun's columns
    runs: list[tuple] = field(default_factory=list)
    moving: bool = True

    def record(self, step: Step, outcome: str, now, detail: str = "", recipient=None) -> None:
        e = self.enrolment
        e.seq += 1
        self.runs.append(
            (e.pk, step.pk, e.seq, str(outcome), detail[:300], recipient and recipient.pk, now)
        )

    def finish(self, state: str, now) -> None:
        e = self.enrolment
        e.state, e.done_at, e.next_run_at, e.waiting = state, now, None, False
        self.moving = False

    def follow(self, step: Step, branch: str | None, now) -> None:
        target = getattr(step, f"{branch}_id") if branch else None
        if target is None:
            self.finish(Enrolment.State.COMPLETED, now)
        else:
            self.enrolment.step_id = target


def _round(moving: list[_Move], *, now, cache: dict, ledger: dict[int, int]) -> None:
    """Move each of ``moving`` on by one step: goals first (one query per goal), then
    the ends of waits, then each step with everyone standing at it, set-based."""
    live: list[tuple[_Move, _Version, Step]] = []
    for m in moving:
        version = _version(cache, m.enrolment.journey_id, m.enrolment.version)
        step = version.by_id.get(m.enrolment.step_id) if m.enrolment.step_id else None
        if step is None:  # the step it stood on is gone: the journey ends for it here
            m.finish(Enrolment.State.COMPLETED, now)
        else:
            live.append((m, version, step))
    _goals(live, now=now)
    at_step: dict[int, list[_Move]] = {}
    steps: dict[int, Step] = {}
    for m, _v, step in live:
        if not m.moving:
            continue
        if m.enrolment.waiting:  # the wait is over
            m.enrolment.waiting = False
            m.record(step, StepRun.Outcome.DONE, now)
            m.follow(step, "next", now)
            continue
        at_step.setdefault(step.pk, []).append(m)
        steps[step.pk] = step
    for step_id in sorted(at_step):
        _run_step(steps[step_id], at_step[step_id], now=now, ledger=ledger)


def _goals(live: list[tuple[_Move, _Version, Step]], *, now) -> None:
    """Whoever meets one of their version's goals leaves as converted (the first goal
    met, in the version's order): one query per goal, for the people at that version."""
    by_version: dict[int, tuple[_Version, list[_Move]]] = {}
    for m, version, _step in live:
        if version.goals:
            by_version.setdefault(id(version), (version, []))[1].append(m)
    for version, group in by_version.values():
        left = {m.enrolment.person_id: m for m in group}
        for goal in version.goals:
            if not left:
                break
            for person_id in people_matching(list(left), goal.config["definition"]):
                m = left.pop(person_id)
                m.record(goal, StepRun.Outcome.CONVERTED, now)
                m.enrolment.step_id = goal.pk
                m.finish(Enrolment.State.CONVERTED, now)


def _run_step(step: Step, group: list[_Move], *, now, ledger: dict[int, int]) -> None:
    """Run ``step`` for everyone in ``group`` at once (``run_many``, in a savepoint);
    if that raises, person by person (``run``, a savepoint each), so only those whose
    step fails are held back, to be retried after ``RETRY_AFTER``."""
    stype = step_type(step.type)
    results: list[Result | None]
    mine: dict[int, int] = {}
    ctxs = [
        Context(enrolment=m.enrolment, person=m.enrolment.person, step=step, now=now, ledger=mine)
        for m in group
    ]
    try:
        if stype is None:
            raise ValueError(f"unknown step type {step.type!r}")
        with transaction.atomic():
            results = list(stype.run_many(ctxs))
            if len(results) != len(ctxs):
                raise ValueError(f"step {step.pk}: {len(results)} results for {len(ctxs)}")
    except Exception:
        if len(ctxs) > 1:
            log.exception("journey step %s: the set run failed; person by person", step.pk)
        mine.clear()
        results = []
        for ctx in ctxs:
            ctx.ledger = {}
            try:
                if stype is None:
                    raise ValueError(f"unknown step type {step.type!r}") from None
                with transaction.atomic():
                    result = stype.run(ctx)
            except Exception:
                log.exception("journey enrolment %s: step failed; retried later", ctx.enrolment.pk)
                results.append(None)
                continue
            results.append(result)
            for mailing_id, n in ctx.ledger.items():
                mine[mailing_id] = mine.get(mailing_id, 0) + n
    for mailing_id, n in mine.items():
        ledger[mailing_id] = ledger.get(mailing_id, 0) + n
    for m, result in zip(group, results, strict=True):
        if result is None:
            m.enrolment.next_run_at = now + RETRY_AFTER
            m.moving = False
            continue
        m.record(step, result.outcome, now, result.detail, result.recipient)
        if result.state:
            m.finish(result.state, now)
        elif result.wait_until is not None and result.wait_until > now:
            m.enrolment.waiting = True
            m.enrolment.next_run_at = result.wait_until
            m.moving = False
        else:
            if result.wait_until is not None:  # a date already past: go straight on
                m.record(step, StepRun.Outcome.DONE, now)
            m.follow(step, result.follow, now)


def _save(moves: list[_Move]) -> None:
    """The batch's step runs in one insert, and the enrolments' new positions in one
    UPDATE per distinct position (conditional on the ``seq`` each was claimed at)."""
    _insert_runs([r for m in moves for r in m.runs])
    positions: dict[tuple, list[int]] = {}
    for m in moves:
        e = m.enrolment
        key = (m.seq0, e.seq, e.step_id, e.state, e.waiting, e.next_run_at, e.done_at)
        positions.setdefault(key, []).append(e.pk)
    for (seq0, seq, step_id, state, waiting, next_run_at, done_at), ids in positions.items():
        updated = Enrolment.objects.filter(pk__in=ids, seq=seq0).update(
            step_id=step_id,
            state=state,
            waiting=waiting,
            seq=seq,
            next_run_at=next_run_at,
            done_at=done_at,
        )
        if updated != len(ids):
            raise _Raced(ids)


RUN_COLUMNS = "enrolment_id, step_id, seq, outcome, detail, recipient_id, created_at"


def _insert_runs(rows: list[tuple]) -> None:
    """Insert ``StepRun`` rows given as column tuples: on PostgreSQL one statement over
    arrays (``unnest``), elsewhere one prepared statement run for each row. (Thousands
    per batch: model instances would cost more than the insert.)"""
    if not rows:
        return
    table = connection.ops.quote_name(StepRun._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = [list(c) for c in zip(*rows, strict=True)]
            cursor.execute(
                f"INSERT INTO {table} ({RUN_COLUMNS}) SELECT * FROM unnest("  # noqa: S608 (names are ours; values are parameters)
                "%s::bigint[], %s::bigint[], %s::integer[], %s::varchar[], %s::varchar[],"
                " %s::bigint[], %s::timestamptz[])",
                columns,
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({RUN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",  # noqa: S608 (as above)
                [(*r[:6], connection.ops.adapt_datetimefield_value(r[6])) for r in rows],
            )
