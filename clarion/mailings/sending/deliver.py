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
- Before their SMTP transactions rows move ``claimed -> in_flight`` in one statement,
  committed synchronously, that also re-checks, at that moment, that the person is
  still subscribed, not on the suppression list, not opted out of the category and
  not mailed within the frequency cap. So an unsubscribe stops every later message
  of a running send. The same statement records the 250s received since the last
  one (``in_flight -> sent``) and renews the heartbeat: one durable commit (one disk
  flush) per mark, on PostgreSQL on a second connection while earlier messages are
  on the wire.
- The window (``CLARION_MAILINGS_WINDOW``, W) is a sliding one: a mark moves at most
  W minus the rows in flight whose outcome is not yet known, so no more than W rows per
  sender are ever in flight, and a crash leaves no more than that uncertain. When to
  mark is chosen from running estimates of a commit's and a message's time: if the
  server is slow next to a commit, marks are made when the messages on the wire
  are nearly done (each carries nearly W rows, the connections never wait); if a
  commit is slow next to W messages, the sender waits for every answer and marks W
  at once; in between, W/2 rows as soon as W/2 are answered. A mark carries fewer
  than W/2 rows only when nothing else is on the wire or the batch ends.
- The messages go out over the process's SMTP pool, pipelined; the loop renders
  the next messages (before they are in flight: rendering sends nothing) while it
  waits for the server's answers or the mark's commit.
- A sender whose heartbeat is older than the lease is dead: its ``claimed`` rows go
  back to ``queued`` (never handed to SMTP), its ``in_flight`` rows become
  ``uncertain`` (maybe delivered; never re-sent automatically). See ``recover``.
"""

from __future__ import annotations

import collections
import logging
import socket
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


def _render(mailing: Mailing, compiled: CompiledMailing, contexts: dict, row: tuple):
    """(envelope sender, bytes) for a claimed row, or the reason it cannot be rendered.
    Rendering sends nothing, so it may run before the row is in flight."""
    rid, pid, email, variant, _attempts = row
    context = contexts.get(pid)
    if context is None:
        return "The person no longer exists."
    try:
        return compiled.message(recipient_id=rid, email=email, variant=variant, context=context)
    except Exception as exc:  # a template that cannot render for this person
        log.exception("mailing %s: rendering recipient %s failed", mailing.pk, rid)
        return f"Rendering failed: {exc}"[:300]


class _Window:
    """The state of one batch in ``Sender._send_batch``."""

    def __init__(self, window: int, rows: list[tuple]):
        self.window = window
        self.todo = collections.deque(rows)  # claimed, not yet marked in flight
        self.ready: collections.deque = collections.deque()  # in flight, not yet handed over
        self.live: list = []  # handed to SMTP, answer not yet known
        self.unanswered = 0  # in flight (ready or live) with no outcome yet
        self.rendered: dict = {}  # row id -> rendered message (or why it cannot be)
        self.fut: Future | None = None  # the mark being committed
        self.fut_rows: list[tuple] = []
        self.fut_at = 0.0
        self.busy_since: float | None = None

    def render_ahead(self, mailing, compiled, contexts, sender) -> bool:
        """Render one message the loop will hand over soon, while the server answers.
        Returns False when there is nothing worth rendering yet."""
        if len(self.rendered) >= 2 * self.window:
            return False
        for queue in (self.ready, self.fut_rows if self.fut is not None else (), self.todo):
            for row in queue:
                if row[0] not in self.rendered:
                    self.rendered[row[0]] = _render(mailing, compiled, contexts, row)
                    return True
        return False


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
        # Running estimates (seconds) of one mark's commit and one message on the wire.
        self.commit_s, self.per_msg_s = 0.002, 0.0005
        # With the helper thread: a socket the loop waits on together with the SMTP
        # connections, written to when a mark's commit returns.
        self.wake: socket.socket | None = None
        self.wake_w: socket.socket | None = None

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
                self.wake, self.wake_w = socket.socketpair()
                self.wake.setblocking(False)
            again = self._loop(mailing, compiled)
        finally:
            if self.pool is not None:
                self.pool.release()
            if self.helper is not None:
                self.helper.submit(
                    lambda: connection.close()
                ).result()  # the helper thread's own connection
                self.helper.shutdown()
            for sock in (self.wake, self.wake_w):
                if sock is not None:
                    sock.close()
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
        """Send claimed ``rows``. Returns False if the sender must stop (paused,
        cancelled, or its slot was taken over).

        A sliding window of W rows (``CLARION_MAILINGS_WINDOW``): each in-flight mark
        (one statement, one durable commit, carrying the 250s received so far) moves
        at most W minus the rows still unanswered, so no more than W rows are ever in
        flight. On PostgreSQL the mark is committed on a second connection while
        earlier messages are on the wire, and the loop renders the next messages while
        it waits for the server. When to mark is chosen to spend as few commits as the
        window allows without leaving the connections idle (see ``_should_mark``).
        """
        w = _Window(max(1, settings.CLARION_MAILINGS_WINDOW), rows)
        contexts = compiled.contexts([r[1] for r in rows if r[1] is not None])
        stop = False
        while w.todo or w.ready or w.live or w.fut is not None:
            if w.fut is not None and w.fut.done():
                allowed = w.fut.result()
                self._timing(commit=time.monotonic() - w.fut_at)
                marked, w.fut, w.fut_rows = w.fut_rows, None, []
                if allowed is None:
                    stop = True  # nothing of that part was moved in flight
                    w.todo.clear()
                    allowed = set()
                for row in marked:
                    if row[0] in allowed:
                        w.ready.append(row)
                        w.unanswered += 1
                    else:  # refused at the mark (now suppressed) or not marked at all
                        w.rendered.pop(row[0], None)
                continue
            if (
                w.fut is None
                and w.todo
                and not stop
                and self._should_mark(w.window - w.unanswered, w.window, w)
            ):
                part = [w.todo.popleft() for _ in range(min(w.window - w.unanswered, len(w.todo)))]
                w.fut_rows, w.fut_at = part, time.monotonic()
                w.fut = self._advance(mailing, part)
                if self.wake is not None:
                    w.fut.add_done_callback(self._woken)
                continue
            if w.ready and self.pool.can_take:
                self._hand_over(mailing, compiled, contexts, w)
                continue
            if w.render_ahead(mailing, compiled, contexts, self):
                self._collect(w, 0)
                continue
            self._collect(w, None)
        if stop:
            self._release_claimed()
            return False
        return True

    def _should_mark(self, free: int, window: int, w: _Window) -> bool:
        """Whether to put the next rows in flight now (``free`` may be marked).

        With ``t`` the time one message takes on the wire and ``c`` the time one
        mark takes to commit: if ``c`` is under W·t, marking when the messages
        already in flight will last about ``c`` keeps the connections busy with the
        fewest commits (each carries between W/2 and W rows); otherwise waiting until
        every answer is in and marking W rows at once sends the most per second.
        """
        if free <= 0:
            return False
        if not w.ready and not w.live:
            return True  # nothing left on the wire: mark what the window allows
        if free < max(1, window // 2):
            return False
        if self.commit_s >= window * self.per_msg_s:
            return False  # wait for every answer, then mark the whole window
        left = (len(w.ready) + len(w.live)) * self.per_msg_s
        return left <= self.commit_s

    def _timing(self, *, commit: float | None = None, per_msg: float | None = None) -> None:
        if commit is not None:
            self.commit_s += 0.2 * (commit - self.commit_s)
        if per_msg is not None:
            self.per_msg_s += 0.05 * (per_msg - self.per_msg_s)

    def _woken(self, _fut) -> None:
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    def _hand_over(self, mailing, compiled, contexts, w: _Window) -> None:
        """Hand the next row now committed in flight to SMTP (rendering it if the
        loop has not yet)."""
        row = w.ready.popleft()
        rid, pid, email, variant, attempts = row
        prepared = w.rendered.pop(rid, None) or _render(mailing, compiled, contexts, row)
        if isinstance(prepared, str):  # rendering failed: it never reaches SMTP
            w.unanswered -= 1
            self._record([], [(rid, prepared)], [])
            return
        mail_from, data = prepared
        job = transport_mod.Job(mail_from=mail_from, rcpt=email, data=data, key=(rid, attempts))
        if not w.live:
            w.busy_since = time.monotonic()
        w.live.append(job)
        self.pool.submit(job)
        if job.outcome is not None:
            self._collect(w, 0)

    def _collect(self, w: _Window, timeout: float | None) -> None:
        """Wait up to ``timeout`` (None: until something happens) for answers or the
        mark's commit; record what came back (250s go with the next mark)."""
        if timeout is None and not any(j.outcome is not None for j in w.live):
            pending = w.fut is not None and not w.fut.done()
            self.pool.pump(self.pool.timeout, wake=self.wake if pending else None)
            if pending and not w.live and not self.pool.busy and not w.fut.done():
                w.fut.exception()  # nothing on the wire: wait for the commit itself
        elif timeout == 0:
            self.pool.pump(0)
        if self.wake is not None:
            try:
                while self.wake.recv(4096):
                    pass
            except BlockingIOError:
                pass
        if not w.live:
            return
        done = [j for j in w.live if j.outcome is not None]
        if not done:
            return
        now = time.monotonic()
        if w.busy_since is not None:
            # The connections stayed busy since the last answer (or the first hand-over).
            self._timing(per_msg=(now - w.busy_since) / len(done))
        w.live = [j for j in w.live if j.outcome is None]
        w.busy_since = now if w.live else None
        retry, failed, uncertain = [], [], []
        for job in done:
            w.unanswered -= 1
            rid, attempts = job.key
            outcome = job.outcome
            if outcome.kind == transport_mod.SENT:
                self.unrecorded.append(rid)
                self.sent += 1
            elif outcome.kind == transport_mod.RETRY:
                retry.append((rid, attempts + 1, outcome.reason))
            elif outcome.kind == transport_mod.UNCERTAIN:
                uncertain.append((rid, outcome.reason))
            else:
                failed.append((rid, outcome.reason))
        if retry or failed or uncertain:
            self._record(retry, failed, uncertain)

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
