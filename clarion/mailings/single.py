"""Standing mailings: one message at a time to one person, through the same ledger.

Automation (journeys) sends a stored subject and body to people one by one as they
reach an email step. Rather than a second send path, each such email is a *standing*
``Mailing``: created already frozen (``frozen_at`` set, so ``mailing_start_now`` never
freezes a segment into it) and ``sent`` while it has nothing to do. A caller adds one
ledger row per person (``ledger_add``) inside its own transaction and, before that
transaction ends, calls ``ledger_wake`` for the mailings it touched. The ordinary
senders then deliver the rows with every rule of invariants 2 and 3: at most one copy
per (mailing, person) (the ledger's unique constraint), the consent re-check at the
in-flight mark (unsubscribed, suppressed hash, category opt-out, frequency cap),
uncertain rather than re-sent after a crash, unsubscribe links and tracking.

Locking: ``ledger_wake`` takes the mailing's row lock (``SELECT ... FOR UPDATE``) for
the rest of the caller's transaction, so call it once per mailing per transaction,
after the rows are written and after any other row locks the caller needs.

A sender finishing at the very moment a row is added may still mark the mailing
``sent`` with that row queued (its "anything left?" check ran before the row was
committed). ``ledger_sweep`` puts such mailings back to sending; the journeys engine
runs it on every pass, so such a row waits at most one pass.

``if_segment`` blocks are not supported in standing mailings: the senders work out
segment membership once per sender run, for the rows present when it starts, so a row
added later would see every block as "not in the segment". ``standing_problems``
refuses them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.people.models import EmailStatus, Person
from clarion.people.normalise import email_hash

from .models import Link, Mailing, Recipient
from .sending import render


def standing_problems(*, subject: str, body: str, area, from_email: str) -> list[str]:
    """What stops ``subject``/``body`` from being a standing mailing (empty: fine)."""
    from .selectors import from_address_allowed

    problems = render.template_problems(subject) + render.template_problems(body)
    if render.segment_names(subject + " " + body):
        problems.append(_("Segment blocks ({% if_segment %}) cannot be used in journey emails."))
    if from_email and not from_address_allowed(area=area, email=from_email):
        problems.append(
            _("The from address %(email)s is not allowed for this area.") % {"email": from_email}
        )
    return list(dict.fromkeys(problems))


@transaction.atomic
def standing_create(
    *,
    name: str,
    subject: str,
    body: str,
    from_name: str,
    from_email: str,
    area,
    actor,
    category: str = Mailing.Category.NEWS,
    frequency_cap_hours: int = 0,
    reply_to: str = "",
) -> Mailing:
    """A standing mailing (see the module docstring), idle until rows are added.
    The caller has checked ``standing_problems``."""
    from .sending.compose import CompiledMailing

    now = timezone.now()
    mailing = Mailing.objects.create(
        name=name[:150],
        subject=subject[:250],
        from_name=from_name[:100],
        from_email=from_email,
        reply_to=reply_to,
        body=body,
        category=category,
        frequency_cap_hours=frequency_cap_hours,
        area=area,
        created_by=actor if getattr(actor, "pk", None) else None,
        sent_by=actor if getattr(actor, "pk", None) else None,
        status=Mailing.Status.SENT,
        frozen_at=now,
        started_at=now,
        finished_at=now,
    )
    Link.objects.bulk_create(
        [
            Link(mailing=mailing, index=i, url=url)
            for i, url in enumerate(CompiledMailing(mailing).links)
        ]
    )
    return mailing


def ledger_add(*, mailing_id: int, person: Person) -> Recipient | None:
    """Queue one message of a standing mailing to ``person``, in the caller's
    transaction. Returns the ledger row, or None when the person has no address or
    already has a row in this mailing (at most one per mailing and person). Consent is
    checked again by the sender, at the moment the message goes in flight."""
    if not person.email or person.email_status != EmailStatus.SUBSCRIBED:
        return None
    try:
        with transaction.atomic():
            return Recipient.objects.create(
                mailing_id=mailing_id,
                person=person,
                email=person.email,
                email_hash=email_hash(person.email),
                variant=0,
                status=Recipient.Status.QUEUED,
            )
    except IntegrityError:
        return None


def ledger_add_many(*, mailing_id: int, people: Sequence[Person]) -> dict[int, Recipient]:
    """``ledger_add`` for many people in one insert: returns person id -> the new ledger
    row, for those given a row (not those without an address, not subscribed, or with
    a row in this mailing already). Same rules as ``ledger_add``; if a row appears
    meanwhile for one of them, it goes person by person."""
    eligible = {p.pk: p for p in people if p.email and p.email_status == EmailStatus.SUBSCRIBED}
    if not eligible:
        return {}
    had = set(
        Recipient.objects.filter(mailing_id=mailing_id, person_id__in=list(eligible)).values_list(
            "person_id", flat=True
        )
    )
    fresh = [p for pk, p in sorted(eligible.items()) if pk not in had]
    rows = [
        Recipient(
            mailing_id=mailing_id,
            person=p,
            email=p.email,
            email_hash=email_hash(p.email),
            variant=0,
            status=Recipient.Status.QUEUED,
        )
        for p in fresh
    ]
    try:
        with transaction.atomic():
            Recipient.objects.bulk_create(rows)
    except IntegrityError:
        found = {p.pk: ledger_add(mailing_id=mailing_id, person=p) for p in fresh}
        return {pk: row for pk, row in found.items() if row is not None}
    return {row.person_id: row for row in rows}


def ledger_wake(*, mailing_id: int, added: int) -> None:
    """After ``added`` rows were queued in this transaction: count them and make sure
    senders run once it commits (a ``sent`` standing mailing goes back to sending; a
    cancelled one cancels the rows; a paused one keeps them for its resume)."""
    from .tasks import mailing_deliver, mailing_start

    if not added:
        return
    mailing = Mailing.objects.select_for_update().get(pk=mailing_id)
    mailing.recipient_count += added
    fields = ["recipient_count"]
    if mailing.status == Mailing.Status.SENT:
        mailing.status, mailing.finished_at = Mailing.Status.SENDING, None
        fields += ["status", "finished_at"]
        transaction.on_commit(lambda: mailing_start.enqueue(mailing_id))
    elif mailing.status == Mailing.Status.SENDING:
        transaction.on_commit(lambda: mailing_deliver.enqueue(mailing_id, 0))
    elif mailing.status == Mailing.Status.CANCELLED:
        Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.QUEUED).update(
            status=Recipient.Status.CANCELLED, reason="The mailing was cancelled by staff."
        )
    mailing.save(update_fields=fields)


def ledger_sweep(mailing_ids) -> int:
    """Put standing mailings among ``mailing_ids`` that were marked sent with rows
    still queued back to sending (see the module docstring). Returns how many."""
    from .tasks import mailing_start

    stuck = list(
        Mailing.objects.filter(
            pk__in=mailing_ids,
            status=Mailing.Status.SENT,
            recipients__status=Recipient.Status.QUEUED,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    woken = 0
    for pk in stuck:
        with transaction.atomic():
            if Mailing.objects.filter(pk=pk, status=Mailing.Status.SENT).update(
                status=Mailing.Status.SENDING, finished_at=None
            ):
                woken += 1
                transaction.on_commit(lambda pk=pk: mailing_start.enqueue(pk))
    return woken
