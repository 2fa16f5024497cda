"""The delivery loop: claim ledger rows, check them, send them, record the outcome.

Locking and ordering rules (invariant 2: at most one copy, none silently dropped):

- A sender owns a ``SendSlot`` while its heartbeat is fresh (renewed before every
  in-flight window). Ledger rows it works on carry its ``claim`` (the slot owner).
- Claiming moves ``queued`` rows to ``claimed`` in ONE statement:
  ``UPDATE ... WHERE id IN (SELECT ... LIMIT n [FOR UPDATE SKIP LOCKED]) AND
  status='queued' RETURNING ...``. On PostgreSQL concurrent claimers skip each
  other's locked rows; on SQLite the statement holds the database write lock, and the
  outer ``status='queued'`` re-check makes a second claimer get nothing it did not win.
- Before its SMTP transactions a window of rows moves ``claimed -> in_flight`` in one
  statement that also re-checks, at that moment, that the person is still subscribed,
  not on the suppression list, not opted out of the category and not mailed within
  the frequency cap. So an unsubscribe stops every later window of a running send.
- After the server's 250 a row becomes ``sent`` (windows are recorded together).
- A sender whose heartbeat is older than the lease is dead: its ``claimed`` rows go
  back to ``queued`` (never handed to SMTP), its ``in_flight`` rows become
  ``uncertain`` (maybe delivered; never re-sent automatically). See ``recover``.
"""

from __future__ import annotations

import logging
import time
import uuid
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


def _lease() -> timedelta:
    return timedelta(seconds=settings.CLARION_MAILINGS_LEASE_SECONDS)


# --- slots and recovery ---------------------------------------------------------------


def slot_take(mailing_id: int, number: int, owner: str) -> bool:
    SendSlot.objects.get_or_create(mailing_id=mailing_id, number=number)
    now = timezone.now()
    return bool(
        SendSlot.objects.filter(mailing_id=mailing_id, number=number)
        .filter(Q(owner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - _lease()))
        .update(owner=owner, heartbeat_at=now)
    )


def slot_beat(mailing_id: int, number: int, owner: str) -> bool:
    return bool(
        SendSlot.objects.filter(mailing_id=mailing_id, number=number, owner=owner).update(heartbeat_at=timezone.now())
    )


def slot_release(mailing_id: int, number: int, owner: str) -> None:
    SendSlot.objects.filter(mailing_id=mailing_id, number=number, owner=owner).update(owner="", heartbeat_at=None)


def recover(mailing_id: int) -> tuple[int, int]:
    """Settle rows of senders that died: claimed -> queued, in_flight -> uncertain.

    Returns (requeued, uncertain). Safe to run at any time and from any process.
    """
    live = SendSlot.objects.filter(
        mailing_id=mailing_id, heartbeat_at__gte=timezone.now() - _lease()
    ).exclude(owner="").values("owner")
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
        log.warning("mailing %s: recovered %s claimed rows, %s uncertain", mailing_id, requeued, uncertain)
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
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (
        f"UPDATE {table} SET status = %s, claim = %s "  # noqa: S608 (table name is ours)
        f"WHERE id IN (SELECT id FROM {table} WHERE mailing_id = %s AND status = %s "
        f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id LIMIT %s{lock}) "
        f"AND status = %s RETURNING id, person_id, email, variant, attempts"
    )
    params = [Recipient.Status.CLAIMED, owner, mailing_id, Recipient.Status.QUEUED, _dt(timezone.now()),
              limit, Recipient.Status.QUEUED]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    rows.sort()
    return rows


def mark_in_flight(mailing: Mailing, owner: str, ids: list[int], person_ids: list[int]) -> set[int]:
    """Move ``ids`` from claimed to in_flight, re-checking consent at this moment.

    Returns the ids that may be sent; the others are marked suppressed with a reason.
    """
    from clarion.people.models import EmailStatus, Person, Suppression

    if not ids:
        return set()
    table = Recipient._meta.db_table
    id_marks = ", ".join(["%s"] * len(ids))
    person_marks = ", ".join(["%s"] * len(person_ids)) if person_ids else "NULL"
    sql = (
        f"UPDATE {table} SET status = %s, attempts = attempts + 1 "  # noqa: S608
        f"WHERE id IN ({id_marks}) AND claim = %s AND status = %s "
        f"AND person_id IN (SELECT id FROM {Person._meta.db_table} WHERE id IN ({person_marks}) "
        f"AND email_status = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {Suppression._meta.db_table} s "
        f"WHERE s.email_hash = {table}.email_hash) "
        f"AND person_id NOT IN (SELECT person_id FROM {OptOut._meta.db_table} WHERE category = %s "
        f"AND person_id IN ({person_marks}))"
    )
    params: list = [Recipient.Status.IN_FLIGHT, *ids, owner, Recipient.Status.CLAIMED, *person_ids,
                    EmailStatus.SUBSCRIBED, mailing.category, *person_ids]
    if mailing.frequency_cap_hours:
        since = timezone.now() - timedelta(hours=mailing.frequency_cap_hours)
        sql += (
            f" AND person_id NOT IN (SELECT r2.person_id FROM {table} r2 WHERE r2.person_id IN ({person_marks}) "  # noqa: S608
            f"AND r2.mailing_id <> %s AND r2.sent_at >= %s)"
        )
        params += [*person_ids, mailing.pk, _dt(since)]
    sql += " RETURNING id"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        allowed = {row[0] for row in cursor.fetchall()}
    refused = [i for i in ids if i not in allowed]
    if refused:
        _suppress_refused(mailing, owner, refused)
    return allowed


def _suppress_refused(mailing: Mailing, owner: str, ids: list[int]) -> None:
    """Record why each refused row was not sent (a rare path, so plain queries)."""
    from clarion.people.models import Suppression

    rows = Recipient.objects.filter(pk__in=ids, claim=owner, status=Recipient.Status.CLAIMED).select_related("person")
    hashes = set(Suppression.objects.filter(email_hash__in=[r.email_hash for r in rows]).values_list("email_hash", flat=True))
    opted = set(OptOut.objects.filter(person_id__in=[r.person_id for r in rows], category=mailing.category)
                .values_list("person_id", flat=True))
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


class Sender:
    """Works one slot of one mailing until nothing is left to claim."""

    def __init__(self, mailing_id: int, slot: int):
        self.mailing_id, self.slot = mailing_id, slot
        self.owner = uuid.uuid4().hex
        self.transport = None
        self.sent = 0

    def run(self) -> str:
        if not slot_take(self.mailing_id, self.slot, self.owner):
            return "slot busy"
        try:
            recover(self.mailing_id)
            mailing = Mailing.objects.get(pk=self.mailing_id)
            if mailing.status not in ACTIVE:
                return f"not sending ({mailing.status})"
            compiled = CompiledMailing(mailing)
            self.transport = transport_mod.make_transport()
            self._loop(mailing, compiled)
        finally:
            if self.transport is not None:
                self.transport.close()
            slot_release(self.mailing_id, self.slot, self.owner)
        from ..services import mailing_finish_if_done

        mailing_finish_if_done(mailing_id=self.mailing_id)
        return f"sent {self.sent}"

    def _loop(self, mailing: Mailing, compiled: CompiledMailing) -> None:
        batch = max(1, settings.CLARION_MAILINGS_BATCH)
        while True:
            status = Mailing.objects.filter(pk=mailing.pk).values_list("status", flat=True).first()
            if status not in ACTIVE or not slot_beat(mailing.pk, self.slot, self.owner):
                self._release_claimed()
                return
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
                    return
                time.sleep(wait)
                continue
            self._send_batch(mailing, compiled, rows)

    def _next_retry_in(self, mailing_id: int) -> float | None:
        nxt = (Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.QUEUED)
               .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first())
        if nxt is None:
            exists = Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.QUEUED).exists()
            return 0.0 if exists else None
        return max(0.0, (nxt - timezone.now()).total_seconds())

    def _release_claimed(self) -> None:
        Recipient.objects.filter(mailing_id=self.mailing_id, claim=self.owner, status=Recipient.Status.CLAIMED).update(
            status=Recipient.Status.QUEUED, claim=""
        )

    def _send_batch(self, mailing: Mailing, compiled: CompiledMailing, rows: list[tuple]) -> None:
        contexts = compiled.contexts([r[1] for r in rows if r[1] is not None])
        window = max(1, settings.CLARION_MAILINGS_WINDOW)
        for start in range(0, len(rows), window):
            part = rows[start:start + window]
            status = Mailing.objects.filter(pk=mailing.pk).values_list("status", flat=True).first()
            if status not in ACTIVE or not slot_beat(mailing.pk, self.slot, self.owner):
                self._release_claimed()
                return
            allowed = mark_in_flight(mailing, self.owner, [r[0] for r in part],
                                     [r[1] for r in part if r[1] is not None])
            sent, retry, failed, uncertain = [], [], [], []
            for rid, pid, email, variant, attempts in part:
                if rid not in allowed:
                    continue
                context = contexts.get(pid)
                if context is None:
                    failed.append((rid, "The person no longer exists."))
                    continue
                try:
                    mail_from, data = compiled.message(recipient_id=rid, email=email, variant=variant, context=context)
                except Exception as exc:  # a template that cannot render for this person
                    log.exception("mailing %s: rendering recipient %s failed", mailing.pk, rid)
                    failed.append((rid, f"Rendering failed: {exc}"[:300]))
                    continue
                outcome = self.transport.send(mail_from=mail_from, rcpt=email, data=data)
                if outcome.kind == transport_mod.SENT:
                    sent.append(rid)
                elif outcome.kind == transport_mod.RETRY:
                    retry.append((rid, attempts + 1, outcome.reason))
                elif outcome.kind == transport_mod.UNCERTAIN:
                    uncertain.append((rid, outcome.reason))
                else:
                    failed.append((rid, outcome.reason))
            self._record(sent, retry, failed, uncertain)

    def _record(self, sent, retry, failed, uncertain) -> None:
        now = timezone.now()
        done = (Recipient.Status.IN_FLIGHT, Recipient.Status.UNCERTAIN)
        with transaction.atomic():
            if sent:
                Recipient.objects.filter(pk__in=sent, claim=self.owner, status__in=done).update(
                    status=Recipient.Status.SENT, sent_at=now, reason=""
                )
                self.sent += len(sent)
            for rid, attempts, reason in retry:
                if attempts >= settings.CLARION_MAILINGS_MAX_ATTEMPTS:
                    Recipient.objects.filter(pk=rid, claim=self.owner).update(
                        status=Recipient.Status.FAILED, reason=f"Gave up after {attempts} attempts: {reason}"[:300]
                    )
                else:
                    Recipient.objects.filter(pk=rid, claim=self.owner).update(
                        status=Recipient.Status.QUEUED, claim="", reason=reason, next_attempt_at=now + _backoff(attempts)
                    )
            for rid, reason in failed:
                Recipient.objects.filter(pk=rid, claim=self.owner).update(status=Recipient.Status.FAILED, reason=reason)
            for rid, reason in uncertain:
                Recipient.objects.filter(pk=rid, claim=self.owner).update(status=Recipient.Status.UNCERTAIN, reason=reason)
