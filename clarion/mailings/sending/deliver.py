"""The delivery loop: claim ledger rows, check them, send them, record the outcome.

Locking and ordering rules (invariant 2: at most one copy, none silently dropped):

- A sender owns a ``SendSlot`` while its heartbeat is fresh (renewed before every
  in-flight window). Ledger rows it works on carry its ``claim`` (the slot owner).
- Claiming moves ``queued`` rows to ``claimed`` in ONE statement: on PostgreSQL
  ``WITH picked AS MATERIALIZED (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED) UPDATE
  ... WHERE id IN (SELECT id FROM picked) AND status='queued' RETURNING ...``, so
  concurrent claimers skip each other's locked rows and no claimer takes more than n;
  on SQLite the statement holds the database write lock, and the outer
  ``status='queued'`` re-check makes a second claimer get nothing it did not win.
- Before their SMTP transactions rows move ``claimed -> in_flight`` (a part of half
  the window at a time) in one statement, committed synchronously, that also
  re-checks, at that moment, that the person is still subscribed, not on the
  suppression list, not opted out of the category and not mailed within the
  frequency cap. So an unsubscribe stops every later part of a running send.
- The messages then go out over the process's SMTP pool, pipelined (each message is
  rendered while the previous one's answer travels). After the server's 250 a row
  becomes ``sent``; a part's 250s are recorded in the same statement that puts the
  part after next in flight, while the part between is on the wire. So at most two
  parts (the window, ``CLARION_MAILINGS_WINDOW``) per sender are ever in flight, and
  a crash leaves no more than that uncertain.
- A sender whose heartbeat is older than the lease is dead: its ``claimed`` rows go
  back to ``queued`` (never handed to SMTP), its ``in_flight`` rows become
  ``uncertain`` (maybe delivered; never re-sent automatically). See ``recover``.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Mailing, OptOut, Recipient, SendSlot, Throttle
from . import transport as transport_mod
from .compose import CompiledMailing

log = logging.getLogger(__name__)

ACTIVE = (Mailing.Status.SENDING, Mailing.Status.TESTING)


def _dt(value):
    return connection.ops.adapt_datetimefield_value(value)


def send_lease() -> timedelta:
    """How long a sender's slot stays its own without a heartbeat
    (``CLARION_MAILINGS_LEASE_SECONDS``); a slot quiet for longer is taken over."""
    return timedelta(seconds=settings.CLARION_MAILINGS_LEASE_SECONDS)


# --- slots and recovery ---------------------------------------------------------------


def slot_take(mailing_id: int, number: int, owner: str) -> bool:
    SendSlot.objects.get_or_create(mailing_id=mailing_id, number=number)
    now = timezone.now()
    return bool(
        SendSlot.objects.filter(mailing_id=mailing_id, number=number)
        .filter(Q(owner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - send_lease()))
        .update(owner=owner, heartbeat_at=now)
    )


def slot_beat(mailing_id: int, number: int, owner: str) -> bool:
    return bool(
        SendSlot.objects.filter(mailing_id=mailing_id, number=number, owner=owner).update(
            heartbeat_at=timezone.now()
        )
    )


def slot_release(mailing_id: int, number: int, owner: str) -> None:
    SendSlot.objects.filter(mailing_id=mailing_id, number=number, owner=owner).update(
        owner="", heartbeat_at=None
    )


def recover(mailing_id: int) -> tuple[int, int]:
    """Settle rows of senders that died: claimed -> queued, in_flight -> uncertain.

    Returns (requeued, uncertain). Safe to run at any time and from any process.
    """
    live = (
        SendSlot.objects.filter(
            mailing_id=mailing_id, heartbeat_at__gte=timezone.now() - send_lease()
        )
        .exclude(owner="")
        .values("owner")
    )
    with transaction.atomic():
        requeued = (
            Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.CLAIMED)
            .exclude(claim__in=live)
            .update(status=Recipient.Status.QUEUED, claim="")
        )
        uncertain = (
            Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.IN_FLIGHT)
            .exclude(claim__in=live)
            .update(
                status=Recipient.Status.UNCERTAIN,
                reason="The sender stopped during the SMTP transaction; it may have been delivered.",
            )
        )
    if requeued or uncertain:
        log.warning(
            "mailing %s: recovered %s claimed rows, %s uncertain", mailing_id, requeued, uncertain
        )
    return requeued, uncertain


# --- throttling -----------------------------------------------------------------------


def throttle_take(name: str, limit: int, want: int) -> int:
    """Reserve up to ``want`` sends from the per-second bucket ``name`` shared by all
    processes; returns how many were granted (0: wait for the next second)."""
    if limit <= 0 or want <= 0:
        return want
    Throttle.objects.get_or_create(name=name)
    second = int(time.time())
    with transaction.atomic():
        row = Throttle.objects.select_for_update().get(name=name)
        if row.window != second:
            row.window, row.used = second, 0
        grant = max(0, min(want, limit - row.used))
        row.used += grant
        row.save(update_fields=["window", "used"])
    return grant


# --- claiming -------------------------------------------------------------------------


def claim(mailing_id: int, owner: str, limit: int) -> list[tuple]:
    """Claim up to ``limit`` due queued rows; returns (id, person_id, email, variant, attempts)."""
    table = Recipient._meta.db_table
    pick = (
        f"SELECT id FROM {table} WHERE mailing_id = %s AND status = %s "  # noqa: S608 (table name is ours)
        f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id LIMIT %s"
    )
    if connection.vendor == "postgresql":
        # A MATERIALIZED CTE runs once. As a plain ``IN (subquery)`` the planner may
        # run the locking subquery once per candidate row, and each run skips the
        # rows the previous ones locked, so more than ``limit`` rows were claimed.
        sql = (
            f"WITH picked AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) "  # noqa: S608
            f"UPDATE {table} SET status = %s, claim = %s WHERE id IN (SELECT id FROM picked) "
            f"AND status = %s RETURNING id, person_id, email, variant, attempts"
        )
        params = [
            mailing_id,
            Recipient.Status.QUEUED,
            _dt(timezone.now()),
            limit,
            Recipient.Status.CLAIMED,
            owner,
            Recipient.Status.QUEUED,
        ]
    else:
        sql = (
            f"UPDATE {table} SET status = %s, claim = %s WHERE id IN ({pick}) "  # noqa: S608
            f"AND status = %s RETURNING id, person_id, email, variant, attempts"
        )
        params = [
            Recipient.Status.CLAIMED,
            owner,
            mailing_id,
            Recipient.Status.QUEUED,
            _dt(timezone.now()),
            limit,
            Recipient.Status.QUEUED,
        ]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Losing this commit in a database crash only puts the rows back in the
            # queue (nothing is sent before the in-flight mark, whose synchronous
            # commit also flushes this one), so it need not wait for the disk.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    rows.sort()
    return rows


def _in_flight_sql(
    mailing: Mailing, owner: str, ids: list[int], person_ids: list[int]
) -> tuple[str, list]:
    """The UPDATE moving ``ids`` from claimed to in_flight for those that may still be
    mailed at this moment (subscribed, not suppressed, not opted out of the category,
    not mailed within the frequency cap). Without RETURNING."""
    from clarion.people.models import EmailStatus, Person, Suppression

    table = Recipient._meta.db_table
    id_marks = ", ".join(["%s"] * len(ids))
    person_marks = ", ".join(["%s"] * len(person_ids)) if person_ids else "NULL"
    sql = (
        f"UPDATE {table} SET status = %s, attempts = attempts + 1 "  # noqa: S608
        f"WHERE mailing_id = %s AND status = %s AND id IN ({id_marks}) AND claim = %s "
        # A scalar subquery on the primary key is never turned into a join, so the
        # plan starts from the window's ids whatever the (possibly missing, e.g. just
        # after a bulk import) statistics say about email_status.
        f"AND (SELECT p.email_status FROM {Person._meta.db_table} p WHERE p.id = {table}.person_id) = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {Suppression._meta.db_table} s "
        f"WHERE s.email_hash = {table}.email_hash)"
    )
    params: list = [
        Recipient.Status.IN_FLIGHT,
        mailing.pk,
        Recipient.Status.CLAIMED,
        *ids,
        owner,
        EmailStatus.SUBSCRIBED,
    ]
    if mailing.category:
        # An anti-join on the (person, category) unique index: one probe per row of
        # the window. General mail (no category) has no opt-outs to look at.
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM {OptOut._meta.db_table} o "  # noqa: S608
            f"WHERE o.person_id = {table}.person_id AND o.category = %s)"
        )
        params.append(mailing.category)
    if mailing.frequency_cap_hours:
        since = timezone.now() - timedelta(hours=mailing.frequency_cap_hours)
        sql += (
            f" AND person_id NOT IN (SELECT r2.person_id FROM {table} r2 WHERE r2.person_id IN ({person_marks}) "  # noqa: S608
            f"AND r2.mailing_id <> %s AND r2.sent_at >= %s)"
        )
        params += [*person_ids, mailing.pk, _dt(since)]
    return sql, params


def mark_in_flight(mailing: Mailing, owner: str, ids: list[int], person_ids: list[int]) -> set[int]:
    """Move ``ids`` from claimed to in_flight, re-checking consent at this moment.

    Returns the ids that may be sent; the others are marked suppressed with a reason.
    """
    if not ids:
        return set()
    sql, params = _in_flight_sql(mailing, owner, ids, person_ids)
    with connection.cursor() as cursor:  # one statement: autocommit is atomic enough
        cursor.execute(sql + " RETURNING id", params)
        allowed = {row[0] for row in cursor.fetchall()}
    refused = [i for i in ids if i not in allowed]
    if refused:
        _suppress_refused(mailing, owner, refused)
    return allowed


def window_advance(
    mailing: Mailing, slot: int, owner: str, sent: list[int], ids: list[int], person_ids: list[int]
) -> set[int] | None:
    """Between two windows: record the last window's 250s (``sent``), renew the
    heartbeat (if the mailing is still sending and the slot still ours) and move the
    next window (``ids``) in flight. Returns the ids that may be sent, or None if the
    sender must stop (then nothing was moved in flight).

    On PostgreSQL this is ONE statement (data-modifying CTEs), so one commit per
    window; elsewhere three statements in order.
    """
    if connection.vendor != "postgresql" or not ids:
        _mark_sent(owner, sent)
        if not sender_alive(mailing.pk, slot, owner):
            return None
        return mark_in_flight(mailing, owner, ids, person_ids)
    table, slots, mailings = (
        Recipient._meta.db_table,
        SendSlot._meta.db_table,
        Mailing._meta.db_table,
    )
    now = _dt(timezone.now())
    flight_sql, flight_params = _in_flight_sql(mailing, owner, ids, person_ids)
    sent_marks = ", ".join(["%s"] * len(sent)) if sent else "NULL"
    sql = (
        f"WITH sent AS (UPDATE {table} SET status = %s, sent_at = %s, reason = '' "  # noqa: S608
        f"WHERE id IN ({sent_marks}) AND claim = %s AND status IN (%s, %s) RETURNING id), "
        f"beat AS (UPDATE {slots} SET heartbeat_at = %s WHERE mailing_id = %s AND number = %s AND owner = %s "
        f"AND EXISTS (SELECT 1 FROM {mailings} WHERE id = %s AND status IN (%s, %s)) RETURNING 1), "
        f"flight AS ({flight_sql} AND EXISTS (SELECT 1 FROM beat) RETURNING id) "
        f"SELECT (SELECT count(*) FROM beat), (SELECT count(*) FROM sent), ARRAY(SELECT id FROM flight)"
    )
    params = [
        Recipient.Status.SENT,
        now,
        *sent,
        owner,
        Recipient.Status.IN_FLIGHT,
        Recipient.Status.UNCERTAIN,
        now,
        mailing.pk,
        slot,
        owner,
        mailing.pk,
        *ACTIVE,
        *flight_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        alive, _sent, flight = cursor.fetchone()
    if not alive:
        return None
    allowed = set(flight)
    refused = [i for i in ids if i not in allowed]
    if refused:
        _suppress_refused(mailing, owner, refused)
    return allowed


def _suppress_refused(mailing: Mailing, owner: str, ids: list[int]) -> None:
    """Record why each refused row was not sent (a rare path, so plain queries)."""
    from clarion.people.models import Suppression

    rows = Recipient.objects.filter(
        pk__in=ids, claim=owner, status=Recipient.Status.CLAIMED
    ).select_related("person")
    hashes = set(
        Suppression.objects.filter(email_hash__in=[r.email_hash for r in rows]).values_list(
            "email_hash", flat=True
        )
    )
    opted = set(
        OptOut.objects.filter(
            person_id__in=[r.person_id for r in rows], category=mailing.category
        ).values_list("person_id", flat=True)
    )
    for row in rows:
        if row.person is None:
            reason = "The person was erased."
        elif row.person.email_status != "subscribed":
            reason = f"Email status is {row.person.email_status}."
        elif row.email_hash in hashes:
            reason = "The address is on the suppression list."
        elif row.person_id in opted:
            reason = f"Opted out of {mailing.get_category_display()}."
        else:
            reason = f"Mailed within the last {mailing.frequency_cap_hours} hours."
        Recipient.objects.filter(pk=row.pk, claim=owner, status=Recipient.Status.CLAIMED).update(
            status=Recipient.Status.SUPPRESSED, reason=reason
        )


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * (2 ** max(0, attempts - 1))))


# --- the loop -------------------------------------------------------------------------


def sender_alive(mailing_id: int, slot: int, owner: str) -> bool:
    """Renew the slot's heartbeat if the mailing is still sending and this sender
    still owns the slot: one statement, in autocommit, before every window."""
    slots, mailings = SendSlot._meta.db_table, Mailing._meta.db_table
    sql = (
        f"UPDATE {slots} SET heartbeat_at = %s WHERE mailing_id = %s AND number = %s AND owner = %s "  # noqa: S608
        f"AND EXISTS (SELECT 1 FROM {mailings} WHERE id = %s AND status IN (%s, %s))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_dt(timezone.now()), mailing_id, slot, owner, mailing_id, *ACTIVE])
        return cursor.rowcount == 1


def _mark_sent(owner: str, ids: list[int]) -> None:
    """Record the server's 250 for ``ids`` in one statement (a row that ``recover``
    already turned uncertain is sent after all)."""
    if not ids:
        return
    table = Recipient._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {table} SET status = %s, sent_at = %s, reason = '' "  # noqa: S608
        f"WHERE id IN ({marks}) AND claim = %s AND status IN (%s, %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                Recipient.Status.SENT,
                _dt(timezone.now()),
                *ids,
                owner,
                Recipient.Status.IN_FLIGHT,
                Recipient.Status.UNCERTAIN,
            ],
        )


class Sender:
    """Works one slot of one mailing until nothing is left to claim, or until its time
    slice is used up: then it hands the slot to a fresh task at the back of the queue,
    so transactional tasks queued behind a long send get a worker."""

    def __init__(self, mailing_id: int, slot: int):
        self.mailing_id, self.slot = mailing_id, slot
        self.owner = uuid.uuid4().hex
        self.pool = None
        self.helper: ThreadPoolExecutor | None = None
        self.sent = 0
        self.unrecorded: list[int] = []  # 250s not yet written (go with the next window)
        self.started = time.monotonic()
        self.slice = float(getattr(settings, "CLARION_MAILINGS_SLICE_SECONDS", 30) or 0)

    def run(self) -> str:
        if not slot_take(self.mailing_id, self.slot, self.owner):
            return "slot busy"
        again = False
        try:
            recover(self.mailing_id)
            mailing = Mailing.objects.get(pk=self.mailing_id)
            if mailing.status not in ACTIVE:
                return f"not sending ({mailing.status})"
            compiled = CompiledMailing(mailing)
            pool = transport_mod.shared_pool()
            if not pool.acquire():  # another thread of this process drives it
                pool = transport_mod.Pool(**pool.config())
                pool.acquire()
            self.pool = pool
            if connection.vendor == "postgresql":
                self.helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clarion-window")
            again = self._loop(mailing, compiled)
        finally:
            if self.pool is not None:
                self.pool.release()
            if self.helper is not None:
                self.helper.submit(
                    lambda: connection.close()
                ).result()  # the helper thread's own connection
                self.helper.shutdown()
            slot_release(self.mailing_id, self.slot, self.owner)
        if again:
            from ..tasks import mailing_deliver

            mailing_deliver.enqueue(self.mailing_id, self.slot)
            return f"sent {self.sent}, continues in a new task"
        from ..services import mailing_finish_if_done

        mailing_finish_if_done(mailing_id=self.mailing_id)
        return f"sent {self.sent}"

    def _loop(self, mailing: Mailing, compiled: CompiledMailing) -> bool:
        """Returns True when the time slice ran out with work left."""
        batch = max(1, settings.CLARION_MAILINGS_BATCH)
        try:
            return self._batches(mailing, compiled, batch)
        finally:
            _mark_sent(self.owner, self.unrecorded)
            self.unrecorded = []

    def _batches(self, mailing: Mailing, compiled: CompiledMailing, batch: int) -> bool:
        if not sender_alive(mailing.pk, self.slot, self.owner):
            return False
        while True:
            want = throttle_take(f"mailing:{mailing.pk}", mailing.rate_per_second, batch)
            want = throttle_take("global", settings.CLARION_MAILINGS_RATE_PER_SECOND, want)
            if want == 0:
                time.sleep(max(0.01, 1 - (time.time() % 1)))
                continue
            rows = claim(mailing.pk, self.owner, want)
            if not rows:
                wait = self._next_retry_in(mailing.pk)
                if wait is None or wait > 2:
                    # Retries due later are picked up by a sender the watcher starts.
                    return False
                time.sleep(wait)
                continue
            if not self._send_batch(mailing, compiled, rows):
                return False
            if self.slice and time.monotonic() - self.started > self.slice:
                return True  # after at least one batch, so every task makes progress

    def _next_retry_in(self, mailing_id: int) -> float | None:
        nxt = (
            Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.QUEUED)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if nxt is None:
            exists = Recipient.objects.filter(
                mailing_id=mailing_id, status=Recipient.Status.QUEUED
            ).exists()
            return 0.0 if exists else None
        return max(0.0, (nxt - timezone.now()).total_seconds())

    def _release_claimed(self) -> None:
        Recipient.objects.filter(
            mailing_id=self.mailing_id, claim=self.owner, status=Recipient.Status.CLAIMED
        ).update(status=Recipient.Status.QUEUED, claim="")

    def _send_batch(self, mailing: Mailing, compiled: CompiledMailing, rows: list[tuple]) -> bool:
        """Send claimed ``rows`` part by part. Returns False if the sender must stop
        (paused, cancelled, or its slot was taken over).

        With a window of W >= 2 the rows go in parts of W/2, two parts overlapping:
        while part k's messages are on the wire, part k-1's 250s and part k+1's
        in-flight mark are committed together (on PostgreSQL on a second connection,
        so the commit waits in parallel with the SMTP answers). Part k+1's messages
        are only handed to SMTP after that commit, and at most two parts (W rows)
        are ever in flight and unrecorded.
        """
        contexts = compiled.contexts([r[1] for r in rows if r[1] is not None])
        window = max(1, settings.CLARION_MAILINGS_WINDOW)
        size = window // 2 if window >= 2 else 1
        parts = [rows[i : i + size] for i in range(0, len(rows), size)]
        fut = self._advance(mailing, parts[0])
        previous = None
        for k, part in enumerate(parts):
            prepared = self._prepare(mailing, compiled, contexts, part)
            allowed = self._wait(fut)
            if allowed is None:
                if previous is not None:
                    self._settle(*previous)
                self._release_claimed()
                return False
            current = self._start(prepared, allowed)
            if previous is not None:
                self._settle(*previous)
            if window < 2:  # no overlap: one row in flight at a time
                self._settle(*current)
                current = None
            if k + 1 < len(parts):
                fut = self._advance(mailing, parts[k + 1])
            previous = current
        if previous is not None:
            self._settle(*previous)
        return True

    def _advance(self, mailing: Mailing, part: list[tuple]):
        sent, self.unrecorded = self.unrecorded, []
        args = (
            mailing,
            self.slot,
            self.owner,
            sent,
            [r[0] for r in part],
            [r[1] for r in part if r[1] is not None],
        )
        if self.helper is not None:
            return self.helper.submit(window_advance, *args)
        done: Future = Future()
        done.set_result(window_advance(*args))
        return done

    def _wait(self, fut: Future):
        """The in-flight mark's result, answering SMTP meanwhile."""
        while not fut.done() and self.pool.busy:
            self.pool.pump(0.001)
        return fut.result()

    def _prepare(
        self, mailing: Mailing, compiled: CompiledMailing, contexts: dict, part: list[tuple]
    ):
        """Render a part's messages (before it is in flight: rendering sends nothing)."""
        ready, failed = [], []
        for rid, pid, email, variant, attempts in part:
            context = contexts.get(pid)
            if context is None:
                failed.append((rid, "The person no longer exists."))
                continue
            try:
                mail_from, data = compiled.message(
                    recipient_id=rid, email=email, variant=variant, context=context
                )
            except Exception as exc:  # a template that cannot render for this person
                log.exception("mailing %s: rendering recipient %s failed", mailing.pk, rid)
                failed.append((rid, f"Rendering failed: {exc}"[:300]))
                continue
            ready.append((rid, attempts, mail_from, email, data))
        return ready, failed

    def _start(self, prepared, allowed: set[int]):
        """Hand the allowed rows of a part (now committed in flight) to SMTP."""
        ready, failed = prepared
        jobs, attempts_of = [], {}
        for rid, attempts, mail_from, email, data in ready:
            if rid not in allowed:
                continue
            attempts_of[rid] = attempts
            job = transport_mod.Job(mail_from=mail_from, rcpt=email, data=data, key=rid)
            jobs.append(job)
            self.pool.submit(job)
        return jobs, attempts_of, [f for f in failed if f[0] in allowed]

    def _settle(self, jobs, attempts_of, failed) -> None:
        """Wait for a part's answers; 250s are recorded with the next in-flight mark,
        the rest now."""
        self.pool.wait_for(jobs)
        retry, uncertain, failed = [], [], list(failed)
        for job in jobs:
            outcome = job.outcome
            if outcome.kind == transport_mod.SENT:
                self.unrecorded.append(job.key)
                self.sent += 1
            elif outcome.kind == transport_mod.RETRY:
                retry.append((job.key, attempts_of[job.key] + 1, outcome.reason))
            elif outcome.kind == transport_mod.UNCERTAIN:
                uncertain.append((job.key, outcome.reason))
            else:
                failed.append((job.key, outcome.reason))
        if retry or failed or uncertain:
            self._record(retry, failed, uncertain)

    def _record(self, retry, failed, uncertain) -> None:
        now = timezone.now()
        with transaction.atomic():
            for rid, attempts, reason in retry:
                if attempts >= settings.CLARION_MAILINGS_MAX_ATTEMPTS:
                    Recipient.objects.filter(pk=rid, claim=self.owner).update(
                        status=Recipient.Status.FAILED,
                        reason=f"Gave up after {attempts} attempts: {reason}"[:300],
                    )
                else:
                    Recipient.objects.filter(pk=rid, claim=self.owner).update(
                        status=Recipient.Status.QUEUED,
                        claim="",
                        reason=reason,
                        next_attempt_at=now + _backoff(attempts),
                    )
            for rid, reason in failed:
                Recipient.objects.filter(pk=rid, claim=self.owner).update(
                    status=Recipient.Status.FAILED, reason=reason
                )
            for rid, reason in uncertain:
                Recipient.objects.filter(pk=rid, claim=self.owner).update(
                    status=Recipient.Status.UNCERTAIN, reason=reason
                )
