"""Writes for mailings: composing, starting, controlling, feedback (unsubscribes,
bounces, complaints) and tracking events.

Sending itself is in ``sending.deliver``; this module decides *what* is sent. A
person's subscription status changes only through ``people.services.email_status_set``
and their timeline only through ``people.services.activity_record``.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.site import site_url
from clarion.people.models import Activity, EmailStatus, Person, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import activity_record, email_status_set

from .categories import person_categories_set
from .models import (
    Event,
    FromAddress,
    Link,
    Mailing,
    MailingTemplate,
    Recipient,
    SendSlot,
    Variant,
)

log = logging.getLogger(__name__)

FINAL = (
    Recipient.Status.SENT,
    Recipient.Status.FAILED,
    Recipient.Status.SUPPRESSED,
    Recipient.Status.UNCERTAIN,
    Recipient.Status.CANCELLED,
)


# --- composing ------------------------------------------------------------------------


def mailing_save(*, mailing: Mailing, actor, variants: list[dict] | None = None) -> Mailing:
    """Create or update a draft (and its A/B variants). Only drafts and scheduled
    mailings can change; the composer's scope becomes the mailing's area."""
    if (
        mailing.pk
        and not Mailing.objects.filter(
            pk=mailing.pk, status__in=[Mailing.Status.DRAFT, Mailing.Status.SCHEDULED]
        ).exists()
    ):
        raise ValidationError(_("A mailing that has started sending cannot be changed."))
    if not actor.can_write:
        raise PermissionDenied
    from .selectors import from_address_allowed

    area = mailing.area if mailing.pk else actor.scope_area
    if not from_address_allowed(area=area, email=mailing.from_email):
        raise ValidationError(
            {
                "from_email": _(
                    "That from address is not allowed for this area. "
                    "An administrator sets the addresses each area may use."
                )
            }
        )
    with transaction.atomic():
        if not mailing.pk:
            mailing.created_by = actor
            mailing.area = actor.scope_area
        mailing.modified_at = timezone.now()
        mailing.save()
        if variants is not None:
            Variant.objects.filter(mailing=mailing).delete()
            for index, data in enumerate(variants[: mailing.ab_variants]):
                Variant.objects.create(
                    mailing=mailing,
                    index=index,
                    subject=data.get("subject", ""),
                    from_name=data.get("from_name", ""),
                    body=data.get("body", ""),
                )
    return mailing


def from_address_add(*, actor, area, email: str, name: str = "") -> FromAddress:
    """Allow ``email`` for mailings of ``area`` and the areas below it (None: national
    mailings). Administrators only; adding an address twice is harmless."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied
    address, created = FromAddress.objects.get_or_create(
        area=area, email=email.strip().lower(), defaults={"name": name}
    )
    if not created and name and address.name != name:
        address.name = name
        address.save(update_fields=["name"])
    return address


def from_address_remove(*, actor, address: FromAddress) -> None:
    """Stop allowing an address. Drafts that use it can no longer be sent until they
    pick another (the check runs again when sending)."""
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied
    address.delete()


def template_save(*, mailing: Mailing, name: str, actor) -> MailingTemplate:
    """Keep ``mailing``'s content (category, subject, preheader, body) as a template
    named ``name``, owned by the actor's scope (national staff: national). The
    audience, sender and schedule are not kept: each use chooses its own."""
    if not getattr(actor, "can_write", False):
        raise PermissionDenied
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the template a name.")})
    return MailingTemplate.objects.create(
        name=name[:150],
        category=mailing.category,
        subject=mailing.subject,
        preheader=mailing.preheader,
        body_format=mailing.body_format,
        body=mailing.body,
        area=actor.scope_area,
        created_by=actor,
    )


def template_delete(*, template: MailingTemplate, actor) -> None:
    """Remove a template; mailings started from it keep their own copy of the content."""
    if not getattr(actor, "can_write", False) or (
        template.area_id is None and actor.scope_area is not None
    ):
        raise PermissionDenied
    template.delete()


def recipients_query(mailing: Mailing, user):
    """The people a send by ``user`` would reach, before send-time checks: in the
    segment (scoped to ``user`` by ``segment_people``), in the list, not in the
    excluded segment, subscribed, with an address."""
    from clarion.people.segments.selectors import segment_people
    from clarion.people.selectors import people_for

    qs = segment_people(user, mailing.segment) if mailing.segment_id else people_for(user)
    if mailing.person_list_id:
        qs = qs.filter(list_memberships__list_id=mailing.person_list_id)
    if mailing.exclude_segment_id:
        qs = qs.exclude(pk__in=segment_people(user, mailing.exclude_segment).values("pk"))
    if mailing.area_id:
        from clarion.areas.selectors import area_subtree_q

        qs = qs.filter(area_subtree_q(mailing.area))
    return (
        qs.filter(email_status=EmailStatus.SUBSCRIBED).exclude(email__isnull=True).exclude(email="")
    )


def mailing_send(*, mailing: Mailing, actor, when=None) -> Mailing:
    """Start sending now, or schedule it for ``when``. The ledger is frozen when the
    send starts (in a task, after this transaction commits)."""
    from .selectors import mailing_problems
    from .tasks import mailing_start

    if not actor.can_write:
        raise PermissionDenied
    problems = mailing_problems(mailing, actor, blocking_only=True)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if locked.status not in (Mailing.Status.DRAFT, Mailing.Status.SCHEDULED):
            raise ValidationError(_("This mailing has already been sent or is sending."))
        now = timezone.now()
        locked.sent_by = actor
        locked.modified_at = now
        if when is not None and when > now:
            locked.status, locked.scheduled_at = Mailing.Status.SCHEDULED, when
            locked.save(update_fields=["status", "scheduled_at", "sent_by", "modified_at"])
            transaction.on_commit(lambda: mailing_start.using(run_after=when).enqueue(locked.pk))
        else:
            locked.status, locked.scheduled_at = Mailing.Status.SENDING, None
            locked.save(update_fields=["status", "scheduled_at", "sent_by", "modified_at"])
            transaction.on_commit(lambda: mailing_start.enqueue(locked.pk))
    return locked


def _freeze(mailing: Mailing) -> int:
    """Write the ledger: one row per person (unique per mailing and person). Runs in
    the caller's transaction (``mailing_start_now`` holds the mailing's row lock), so
    senders see the ledger only once it is whole."""
    sender = mailing.sent_by
    qs = recipients_query(mailing, sender).order_by()
    if connection.vendor == "postgresql" and not mailing.is_ab:
        return _freeze_in_sql(mailing, qs)
    variants = mailing.ab_variants if mailing.is_ab else 1
    rows: list[Recipient] = []
    total = 0
    rng = random.Random(mailing.pk)
    per_variant = mailing.ab_test_percent / 100 if mailing.is_ab else 0
    for pk, address in qs.values_list("pk", "email").iterator(chunk_size=5000):
        if mailing.is_ab:
            draw = rng.random()
            bucket = int(draw / per_variant) if per_variant else variants
            if bucket < variants:
                status, variant = Recipient.Status.QUEUED, bucket
            else:
                status, variant = Recipient.Status.HELD, None
        else:
            status, variant = Recipient.Status.QUEUED, 0
        rows.append(
            Recipient(
                mailing_id=mailing.pk,
                person_id=pk,
                email=address,
                email_hash=email_hash(address),
                variant=variant,
                status=status,
            )
        )
        if len(rows) >= 5000:
            Recipient.objects.bulk_create(rows, ignore_conflicts=True)
            total += len(rows)
            rows = []
    if rows:
        Recipient.objects.bulk_create(rows, ignore_conflicts=True)
        total += len(rows)
    return total


# ``canonical_email`` spelled in SQL, for addresses of printable ASCII only: there
# ``lower(... COLLATE "C")`` changes exactly the letters Python's ``str.lower`` does
# (A-Z, whatever the database's locale), and the UTF-8 bytes hashed are the same.
# Other addresses get an empty hash here and are hashed in Python after.
_CANONICAL_SQL = (
    "CASE WHEN src.addr ~ '^[ -~]*$' THEN encode(sha256(convert_to("
    "CASE WHEN parts.dom IN ('gmail.com', 'googlemail.com') "
    "THEN replace(split_part(parts.loc, '+', 1), '.', '') || '@gmail.com' "
    "ELSE split_part(parts.loc, '+', 1) || '@' || parts.dom END, 'UTF8')), 'hex') ELSE '' END"
)


def _freeze_in_sql(mailing: Mailing, qs) -> int:
    """PostgreSQL, one variant: the ledger in one ``INSERT ... SELECT`` (no rows
    travel to Python; hashing 100k addresses in Python took most of the freeze).
    Duplicate people (e.g. through list memberships) are skipped by the unique
    constraint, as ``bulk_create(ignore_conflicts=True)`` did. Returns rows written."""
    table = Recipient._meta.db_table
    select_sql, select_params = qs.values_list("pk", "email").query.sql_with_params()
    sql = (
        f"INSERT INTO {table} (mailing_id, person_id, email, email_hash, variant, status, reason, "  # noqa: S608
        f"attempts, claim, bounced) "
        f"SELECT %s, src.pid, src.addr, {_CANONICAL_SQL}, 0, %s, '', 0, '', false "
        f"FROM ({select_sql}) AS src(pid, addr) "
        f'CROSS JOIN LATERAL (SELECT lower(src.addr COLLATE "C") AS e) AS low '
        f"CROSS JOIN LATERAL (SELECT split_part(low.e, '@', 1) AS loc, "
        f"CASE WHEN strpos(low.e, '@') > 0 THEN substr(low.e, strpos(low.e, '@') + 1) ELSE '' END AS dom) AS parts "
        f"ON CONFLICT DO NOTHING"
    )
    params = [mailing.pk, Recipient.Status.QUEUED, *select_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        total = cursor.rowcount
    # Non-ASCII addresses are rare: hash them with the one Python definition.
    rest = [
        Recipient(pk=pk, email_hash=email_hash(address))
        for pk, address in Recipient.objects.filter(mailing=mailing, email_hash="").values_list(
            "pk", "email"
        )
    ]
    Recipient.objects.bulk_update(rest, ["email_hash"], batch_size=1000)
    return total


def _store_links(mailing: Mailing) -> None:
    from .sending.compose import CompiledMailing

    compiled = CompiledMailing(mailing)
    Link.objects.filter(mailing=mailing).delete()
    Link.objects.bulk_create(
        [Link(mailing=mailing, index=i, url=url) for i, url in enumerate(compiled.links)]
    )


def mailing_start_now(*, mailing_id: int) -> str:
    """Freeze the ledger (once) and enqueue the senders and the watcher. Idempotent."""
    from .tasks import mailing_watch

    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing_id)
        if mailing.status == Mailing.Status.SCHEDULED:
            if mailing.scheduled_at and mailing.scheduled_at > timezone.now() + timedelta(
                seconds=1
            ):
                return "not due"  # rescheduled later; that later task starts it
            mailing.status = Mailing.Status.SENDING
        if mailing.status not in (Mailing.Status.SENDING, Mailing.Status.TESTING):
            return f"not sending ({mailing.status})"
        if mailing.frozen_at is None:
            _store_links(mailing)
            count = _freeze(mailing)
            now = timezone.now()
            mailing.frozen_at = mailing.started_at = now
            mailing.recipient_count = (
                Recipient.objects.filter(mailing=mailing).count() if count else 0
            )
            if mailing.is_ab:
                mailing.status = Mailing.Status.TESTING
                mailing.ab_decide_at = now + timedelta(minutes=mailing.ab_wait_minutes)
            mailing.save()
        transaction.on_commit(lambda: _start_senders(mailing.pk))
        transaction.on_commit(lambda: mailing_watch.enqueue(mailing.pk))
    return f"frozen {mailing.recipient_count}"


def _start_senders(mailing_id: int) -> None:
    from .tasks import mailing_deliver

    for slot in range(max(1, settings.CLARION_MAILINGS_SENDERS)):
        SendSlot.objects.get_or_create(mailing_id=mailing_id, number=slot)
        mailing_deliver.enqueue(mailing_id, slot)


def mailing_finish_if_done(*, mailing_id: int) -> bool:
    """Mark the mailing sent once every ledger row is final (none queued, claimed,
    in flight or held)."""
    pending = Recipient.objects.filter(mailing_id=mailing_id).exclude(status__in=FINAL).exists()
    if pending:
        return False
    return bool(
        Mailing.objects.filter(pk=mailing_id, status=Mailing.Status.SENDING).update(
            status=Mailing.Status.SENT, finished_at=timezone.now()
        )
    )


def mailing_watch_once(*, mailing_id: int) -> bool:
    """One round of the watcher; returns True while the mailing still needs watching."""
    from .sending.deliver import recover, send_lease
    from .tasks import mailing_deliver

    mailing = Mailing.objects.filter(pk=mailing_id).first()
    if mailing is None or mailing.status in (
        Mailing.Status.SENT,
        Mailing.Status.CANCELLED,
        Mailing.Status.DRAFT,
    ):
        return False
    recover(mailing_id)
    if (
        mailing.status == Mailing.Status.TESTING
        and mailing.ab_auto
        and mailing.ab_decide_at
        and mailing.ab_decide_at <= timezone.now()
    ):
        from .selectors import ab_leader

        mailing_winner_set(mailing=mailing, variant=ab_leader(mailing), actor=None)
        return True
    if mailing.status in (Mailing.Status.SENDING, Mailing.Status.TESTING):
        work = (
            Recipient.objects.filter(mailing_id=mailing_id, status=Recipient.Status.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
            .exists()
        )
        if work:
            stale = timezone.now() - send_lease()
            for slot in SendSlot.objects.filter(mailing_id=mailing_id):
                # A dead (or never started) sender: reserve the slot for one lease and
                # enqueue a new sender for it.
                if (
                    SendSlot.objects.filter(pk=slot.pk)
                    .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
                    .update(owner="", heartbeat_at=timezone.now())
                ):
                    mailing_deliver.enqueue(mailing_id, slot.number)
        mailing_finish_if_done(mailing_id=mailing_id)
    mailing.refresh_from_db(fields=["status"])
    return mailing.status not in (Mailing.Status.SENT, Mailing.Status.CANCELLED)


def mailing_pause(*, mailing: Mailing, actor) -> bool:
    """Senders stop before their next window; claimed rows go back to the queue."""
    return bool(
        Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.SENDING).update(
            status=Mailing.Status.PAUSED, modified_at=timezone.now()
        )
    )


def mailing_resume(*, mailing: Mailing, actor) -> bool:
    with transaction.atomic():
        held = Recipient.objects.filter(mailing=mailing, status=Recipient.Status.HELD).exists()
        testing = mailing.is_ab and mailing.winner_variant is None and held
        changed = Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.PAUSED).update(
            status=Mailing.Status.TESTING if testing else Mailing.Status.SENDING,
            modified_at=timezone.now(),
        )
        if changed:
            transaction.on_commit(lambda: _start_senders(mailing.pk))
            from .tasks import mailing_watch

            transaction.on_commit(lambda: mailing_watch.enqueue(mailing.pk))
    return bool(changed)


def mailing_cancel(*, mailing: Mailing, actor) -> int:
    """Stop for good: rows not yet handed to SMTP are cancelled. Returns how many."""
    with transaction.atomic():
        changed = (
            Mailing.objects.filter(pk=mailing.pk)
            .exclude(status__in=[Mailing.Status.SENT, Mailing.Status.CANCELLED])
            .update(
                status=Mailing.Status.CANCELLED,
                finished_at=timezone.now(),
                modified_at=timezone.now(),
            )
        )
        if not changed:
            return 0
        return Recipient.objects.filter(
            mailing=mailing,
            status__in=[Recipient.Status.QUEUED, Recipient.Status.HELD, Recipient.Status.CLAIMED],
        ).update(status=Recipient.Status.CANCELLED, reason="Cancelled by staff.")


def mailing_schedule_cancel(*, mailing: Mailing, actor, ip: str | None = None) -> Mailing:
    """Take a scheduled mailing back to draft, so it can be changed and sent again.

    Race-safe against the worker starting it: one conditional UPDATE on
    ``status='scheduled'``. ``mailing_start_now`` moves the status on under the row's
    lock, so either this UPDATE wins (the pending start task then finds a draft and
    does nothing) or the send has begun and this raises ``ValidationError``, changing
    nothing. Audited in the same transaction.
    """
    from clarion.core.models import AuditEntry
    from clarion.core.services import audit_record

    if not actor.can_write:
        raise PermissionDenied
    with transaction.atomic():
        changed = Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.SCHEDULED).update(
            status=Mailing.Status.DRAFT, scheduled_at=None, modified_at=timezone.now()
        )
        if not changed:
            raise ValidationError(
                _(
                    "This mailing is no longer scheduled: sending has already started, so it "
                    "can only be paused or cancelled from its report."
                )
            )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.OTHER,
            summary=f"Scheduled send of mailing {mailing.pk} cancelled; back to draft",
            object_type="mailing",
            object_id=mailing.pk,
            detail={"was_scheduled_at": mailing.scheduled_at.isoformat()}
            if mailing.scheduled_at
            else {},
            ip=ip,
        )
    mailing.refresh_from_db()
    return mailing


def mailing_winner_set(*, mailing: Mailing, variant: int, actor) -> int:
    """Send the rest (held rows) the winning variant. Returns how many were queued."""
    if variant < 0 or variant >= mailing.ab_variants:
        raise ValidationError(_("There is no such variant."))
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if locked.winner_variant is not None or locked.status not in (
            Mailing.Status.TESTING,
            Mailing.Status.PAUSED,
        ):
            return 0
        locked.winner_variant = variant
        locked.status = Mailing.Status.SENDING
        locked.save(update_fields=["winner_variant", "status"])
        n = Recipient.objects.filter(mailing=locked, status=Recipient.Status.HELD).update(
            status=Recipient.Status.QUEUED, variant=variant
        )
        transaction.on_commit(lambda: _start_senders(locked.pk))
    return n


def mailing_test_send(
    *, mailing: Mailing, actor, person: Person | None = None, variant: int = 0
) -> None:
    """Send one copy to the staff user's own address, merged as ``person`` (in scope)
    or as a sample person. Not recorded in the ledger; tracking links are inert."""
    from django.core.mail import get_connection

    from .sending import transport as transport_mod
    from .sending.compose import CompiledMailing

    compiled = CompiledMailing(mailing)
    if person is not None:
        context = compiled.contexts([person.pk])[person.pk]
    else:
        context = sample_context()
    context = {**context, "email": actor.email}
    mail_from, data = compiled.message(
        recipient_id=0, email=actor.email, variant=variant, context=context
    )
    data = data.replace(b"Subject: ", b"Subject: [TEST] ", 1)
    t = transport_mod.make_transport()
    try:
        outcome = t.send(mail_from=mail_from, rcpt=actor.email, data=data)
    finally:
        t.close()
    get_connection  # noqa: B018  (the backend transport opens its own)
    if outcome.kind != transport_mod.SENT:
        raise ValidationError(
            _("The test could not be sent: %(reason)s") % {"reason": outcome.reason}
        )


def mailing_test_send_to(
    *,
    mailing: Mailing,
    actor,
    addresses: list[str],
    person: Person | None = None,
    variant: int = 0,
) -> None:
    """Send one test copy to each of ``addresses`` (at most five, each the actor's own
    or an active staff user's; checked here too, not only in the form), merged as
    ``person`` (in the actor's scope) or as a sample person. Not recorded in the
    ledger; tracking links are inert. Raises ``ValidationError`` naming the addresses
    the server refused; the others have been sent."""
    from .forms import MAX_TEST_ADDRESSES
    from .selectors import not_staff_addresses
    from .sending import transport as transport_mod
    from .sending.compose import CompiledMailing

    if not actor.can_write:
        raise PermissionDenied
    if not addresses or len(addresses) > MAX_TEST_ADDRESSES:
        raise ValidationError(
            _("A test can go to at most %(n)s addresses.") % {"n": MAX_TEST_ADDRESSES}
        )
    others = not_staff_addresses(addresses, actor)
    if others:
        raise ValidationError(
            _("Tests go only to staff users' addresses; these are not: %(list)s")
            % {"list": ", ".join(others)}
        )
    compiled = CompiledMailing(mailing)
    base = compiled.contexts([person.pk])[person.pk] if person is not None else sample_context()
    failed = []
    t = transport_mod.make_transport()
    try:
        for address in addresses:
            mail_from, data = compiled.message(
                recipient_id=0, email=address, variant=variant, context={**base, "email": address}
            )
            data = data.replace(b"Subject: ", b"Subject: [TEST] ", 1)
            outcome = t.send(mail_from=mail_from, rcpt=address, data=data)
            if outcome.kind != transport_mod.SENT:
                failed.append(f"{address} ({outcome.reason})")
    finally:
        t.close()
    if failed:
        raise ValidationError(
            _("The test could not be sent to: %(list)s") % {"list": "; ".join(failed)}
        )


def sample_context() -> dict:
    return {
        "first_name": "Alex",
        "last_name": "Sample",
        "full_name": "Alex Sample",
        "email": "alex@example.org",
        "area": "Sample Ward",
        "share_link": site_url("/?ref=SAMPLE"),
        "recruit_count": 3,
        "last_gift": "£10.00",
        "organisation": settings.ORGANISATION_NAME,
    }


# --- feedback: unsubscribes, preferences, bounces, complaints ----------------------------


def _event(recipient: Recipient, kind: str, **fields) -> Event:
    return Event.objects.create(
        mailing_id=recipient.mailing_id,
        recipient=recipient,
        person_id=recipient.person_id,
        variant=recipient.variant,
        kind=kind,
        **fields,
    )


def recipient_unsubscribe(*, recipient: Recipient, how: str) -> bool:
    """Unsubscribe the recipient's person from all bulk mail (idempotent)."""
    person = recipient.person
    if person is None:
        return False
    with transaction.atomic():
        changed = email_status_set(
            person=person,
            status=EmailStatus.UNSUBSCRIBED,
            reason=_("Unsubscribed from “%(name)s” (%(how)s)")
            % {"name": recipient.mailing.subject[:80], "how": how},
        )
        if changed:
            _event(recipient, Event.Kind.UNSUBSCRIBE, detail=how)
    return changed


def preferences_save(*, recipient: Recipient, unsubscribe_all: bool, categories: list[str]) -> None:
    """Keep only ``categories`` (or unsubscribe from everything)."""
    person = recipient.person
    if person is None:
        return
    if unsubscribe_all:
        recipient_unsubscribe(recipient=recipient, how="preferences")
        return
    person_categories_set(person=person, wanted=categories, source="mailings:preferences")


def _suppress_hash(address: str, reason: str) -> None:
    if address:
        Suppression.objects.get_or_create(
            email_hash=email_hash(address), defaults={"reason": reason}
        )


def bounce_record(*, recipient: Recipient, hard: bool, status_code: str, diagnostic: str) -> str:
    """Record a bounce; suppress after one hard bounce, or after N soft ones within D
    days (settings). Returns what happened."""
    person = recipient.person
    with transaction.atomic():
        _event(recipient, Event.Kind.BOUNCE, hard=hard, detail=f"{status_code} {diagnostic}"[:300])
        Recipient.objects.filter(pk=recipient.pk).update(bounced=True)
        if person is None:
            return "recorded"
        kind = _("Hard bounce") if hard else _("Soft bounce")
        activity_record(
            person=person,
            kind=Activity.Kind.EMAIL,
            summary=_("%(kind)s from “%(subject)s”: %(code)s")
            % {"kind": kind, "subject": recipient.mailing.subject[:80], "code": status_code},
            data={
                "mailing": recipient.mailing_id,
                "status": status_code,
                "diagnostic": diagnostic[:300],
            },
        )
        if hard:
            email_status_set(
                person=person, status=EmailStatus.BOUNCING, reason=f"hard bounce {status_code}"
            )
            _suppress_hash(recipient.email, "bounce")
            return "suppressed"
        since = timezone.now() - timedelta(days=settings.CLARION_MAILINGS_SOFT_BOUNCE_DAYS)
        soft = Event.objects.filter(
            kind=Event.Kind.BOUNCE, recipient__person=person, created_at__gte=since
        ).count()
        if soft >= settings.CLARION_MAILINGS_SOFT_BOUNCES:
            email_status_set(
                person=person,
                status=EmailStatus.BOUNCING,
                reason=f"{soft} soft bounces in {settings.CLARION_MAILINGS_SOFT_BOUNCE_DAYS} days",
            )
            _suppress_hash(recipient.email, "bounce")
            return "suppressed"
    return "recorded"


def complaint_record(*, recipient: Recipient, detail: str = "") -> None:
    """A spam complaint unsubscribes at once (status "complained") and suppresses."""
    person = recipient.person
    with transaction.atomic():
        _event(recipient, Event.Kind.COMPLAINT, detail=detail[:300])
        if person is None:
            return
        email_status_set(
            person=person,
            status=EmailStatus.COMPLAINED,
            reason=_("Spam complaint about “%(subject)s”")
            % {"subject": recipient.mailing.subject[:80]},
        )
        _suppress_hash(recipient.email, "complaint")


# --- tracking -----------------------------------------------------------------------------

MACHINE_AGENTS = (
    "googleimageproxy",
    "yahoomailproxy",
    "barracuda",
    "mimecast",
    "proofpoint",
    "symantec",
    "messagelabs",
    "safelinks",
    "urldefense",
    "bot",
    "spider",
    "crawler",
    "python-requests",
    "curl",
    "wget",
    "go-http-client",
    "headlesschrome",
    "scanner",
)
MACHINE_OPEN_SECONDS = 2


def is_machine(
    *, user_agent: str, recipient: Recipient, now=None, kind: str = Event.Kind.OPEN
) -> bool:
    """Machine opens/clicks: Apple Mail Privacy Protection (its proxy fetches with a
    bare "Mozilla/5.0" agent), security scanners and proxies by agent, and anything
    within seconds of delivery (a person cannot read that fast)."""
    agent = (user_agent or "").strip().lower()
    now = now or timezone.now()
    if not agent or agent == "mozilla/5.0" or any(m in agent for m in MACHINE_AGENTS):
        return True
    if recipient.sent_at and (now - recipient.sent_at).total_seconds() < MACHINE_OPEN_SECONDS:
        return True
    return False


def open_record(*, recipient: Recipient, user_agent: str) -> Event:
    """Insert one open event (never updates a counter, so no event is lost)."""
    return _event(
        recipient,
        Event.Kind.OPEN,
        machine=is_machine(user_agent=user_agent, recipient=recipient),
        detail=(user_agent or "")[:300],
    )


def click_record(*, recipient: Recipient, link: Link, user_agent: str) -> Event:
    event = _event(
        recipient,
        Event.Kind.CLICK,
        link_index=link.index,
        machine=is_machine(user_agent=user_agent, recipient=recipient, kind=Event.Kind.CLICK),
        detail=(user_agent or "")[:300],
    )
    return event


def person_timeline_email(*, recipient: Recipient, summary: str) -> None:
    if recipient.person_id:
        activity_record(
            person=recipient.person,
            kind=Activity.Kind.EMAIL,
            summary=summary,
            data={"mailing": recipient.mailing_id},
        )
