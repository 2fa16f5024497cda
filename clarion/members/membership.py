"""The membership lifecycle: joining, payments, grace, lapse, cancelling, staff changes
and imports. Every write to ``Membership`` goes through a function here; each keeps
``Person.membership_status``, ``membership_number``, ``joined_on`` and ``renews_on`` in
step through ``people.services.person_membership_set`` and records a
``MembershipChange`` and an audit entry.

The payment side (card and Direct Debit) calls ``membership_join``,
``membership_provider_set`` (the provider's subscription now paying),
``membership_payment_received``, ``membership_payment_failed``,
``membership_type_change`` and ``membership_cancel``. A cancellation made here (the
member's "Cancel" button, a staff change) queues a ``MembershipProviderStop`` row for
the stored subscription in the cancelling transaction; after the commit the payment
side, told through ``cancel_listeners``, stops it at the provider (with retries).

Rules (docs/members.md says the same for people):

- **Pending until paid.** A member paying by card or Direct Debit is ``pending`` from
  joining until the first payment arrives, and only then active (renewing one period
  from that day). A member who pays by hand (``manual``: cash, cheque, transfer,
  recorded by staff) is active at once, for one period from the start date. A pending
  membership already holds its number; ``Person.membership_status`` does not change
  until it is active.
- **Numbers** are allocated by ``number_allocate`` from one counter row locked with
  ``SELECT … FOR UPDATE`` in the joining transaction. A join that rolls back rolls the
  counter back with it, so committed numbers have no gaps; a committed number is never
  handed out again (a person keeps theirs through lapses and rejoining, and an erased
  member's number stays used). A number an older record already holds on a person is
  skipped. Imported numbers raise the counter past them.
- **Renewal**: a payment moves ``renews_on`` one period (the type's) on from the later
  of the payment's day and the current ``renews_on``. At most once per (provider,
  reference): the payment row is unique, so a repeated webhook renews nothing.
- **Grace**: a failed payment (or a renewal date passing with no payment) puts an
  active member in grace for ``CLARION_MEMBERSHIP_GRACE_DAYS`` (14); they are still a
  member. A payment clears it. ``memberships_lapse_due`` (the ``members.lifecycle``
  job) lapses those whose grace has ended, each once.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Callable
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.core.site import site_url
from clarion.mailings.single import ledger_add, ledger_wake, standing_create
from clarion.people.models import MembershipStatus, Person
from clarion.people.services import person_membership_set

from .models import (
    Membership,
    MembershipChange,
    MembershipMailing,
    MembershipNotice,
    MembershipNumberCounter,
    MembershipPayment,
    MembershipProviderStop,
    MembershipType,
)

log = logging.getLogger(__name__)

Status = Membership.Status
PaysBy = Membership.PaysBy

# How the membership's status shows on the person (None: leave the person's as it was).
PERSON_STATUS: dict[str, str | None] = {
    Status.PENDING: None,
    Status.ACTIVE: MembershipStatus.ACTIVE,
    Status.GRACE: MembershipStatus.ACTIVE,
    Status.LAPSED: MembershipStatus.LAPSED,
    Status.CANCELLED: MembershipStatus.CANCELLED,
}

# A win-back email goes to members who lapsed at most this long ago (so turning the
# feature on never mails everyone who ever lapsed).
WINBACK_WITHIN = dt.timedelta(days=30)

# Called with the Membership after a cancellation (or a change that leaves a provider
# subscription to stop) commits: the payment side stops the pending
# ``MembershipProviderStop`` rows there. Each must be idempotent.
cancel_listeners: list[Callable[[Membership], None]] = []

# The way of paying each provider collects.
PROVIDER_PAYS_BY = {
    Membership.Provider.GOCARDLESS: PaysBy.DIRECT_DEBIT,
    Membership.Provider.STRIPE: PaysBy.CARD,
}


def grace_days() -> int:
    return int(getattr(settings, "CLARION_MEMBERSHIP_GRACE_DAYS", 14))


def reminder_days() -> int:
    return int(getattr(settings, "CLARION_MEMBERSHIP_REMINDER_DAYS", 14))


def add_period(day: dt.date, period: str) -> dt.date:
    """``day`` moved on one month or one year; the 31st becomes the last day of a
    shorter month and 29 February becomes 28 February."""
    if period == MembershipType.Period.ANNUAL:
        year, month = day.year + 1, day.month
    else:
        year, month = day.year + (day.month // 12), day.month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _as_date(value: dt.date | dt.datetime | None, default: dt.date) -> dt.date:
    if value is None:
        return default
    if isinstance(value, dt.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


# --- Numbers --------------------------------------------------------------------------


def _counter_locked() -> MembershipNumberCounter:
    """The counter row, locked for the rest of the caller's transaction. Made on first
    use (above the highest number already stored); two transactions making it at once
    meet on its primary key, and the loser reads the winner's row."""
    row = MembershipNumberCounter.objects.select_for_update().filter(pk=1).first()
    if row is None:
        highest = Membership.objects.aggregate(n=Max("number"))["n"] or 0
        try:
            with transaction.atomic():
                MembershipNumberCounter.objects.create(pk=1, last=highest)
        except IntegrityError:
            pass
        row = MembershipNumberCounter.objects.select_for_update().get(pk=1)
    return row


def number_allocate(*, person: Person) -> int:
    """The next membership number for ``person``. Must run inside the transaction
    that stores the membership: the counter row stays locked until it commits, so
    concurrent joins queue here and get consecutive numbers, and a rollback returns
    the number. Numbers a person already holds as ``membership_number`` (older data)
    are skipped."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_allocate must run inside the joining transaction.")
    counter = _counter_locked()
    number = counter.last + 1
    while (
        Membership.objects.filter(number=number).exists()
        or Person.objects.filter(membership_number=str(number)).exclude(pk=person.pk).exists()
    ):
        number += 1
    counter.last = number
    counter.save(update_fields=["last"])
    return number


# --- Shared steps ---------------------------------------------------------------------


def _sync_person(membership: Membership, *, actor=None, summary: str = "") -> None:
    """Make the person's membership fields match ``membership`` (locks the person)."""
    person = membership.person
    status = PERSON_STATUS[membership.status]
    if status is None:
        status = person.membership_status
        if status == MembershipStatus.ACTIVE:
            status = MembershipStatus.NONE
    person_membership_set(
        person=person,
        status=status,
        number=str(membership.number),
        joined_on=membership.joined_on,
        renews_on=membership.renews_on,
        actor=actor,
        summary=summary,
    )


def _record(
    membership: Membership,
    kind: str,
    *,
    actor=None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    ip: str | None = None,
    audit: bool = True,
) -> None:
    """The history row and (unless ``audit`` is off) the audit entry of a change."""
    staff = actor if getattr(actor, "pk", None) else None
    MembershipChange.objects.create(
        membership=membership,
        kind=kind,
        at=at or timezone.now(),
        actor=staff,
        reason=reason[:500],
        detail=detail or {},
    )
    if audit:
        audit_record(
            actor=staff,
            action=AuditEntry.Action.OTHER,
            summary=_("Membership %(number)s: %(kind)s")
            % {"number": membership.number, "kind": MembershipChange.Kind(kind).label},
            object_type="person",
            object_id=membership.person_id,
            detail={"membership": kind, "status": membership.status, **(detail or {})},
            ip=ip,
        )


def _locked(person: Person) -> Membership | None:
    return (
        Membership.objects.select_for_update()
        .select_related("membership_type", "person")
        .filter(person_id=person.pk)
        .first()
    )


def _save(membership: Membership, *fields: str) -> None:
    membership.updated_at = timezone.now()
    membership.save(update_fields=[*fields, "updated_at"])


# --- Joining --------------------------------------------------------------------------


def membership_join(
    *,
    person: Person,
    membership_type: MembershipType,
    pays_by: str,
    started_at: dt.date | dt.datetime | None = None,
    actor=None,
    ip: str | None = None,
) -> Membership:
    """Make ``person`` a member of ``membership_type`` paying by ``pays_by`` ("card",
    "direct_debit" or "manual"), from ``started_at`` (default today).

    Card and Direct Debit memberships are ``pending`` until
    ``membership_payment_received``; manual ones are active at once and renew one
    period after the start. A new member gets the next number (``number_allocate``,
    in this transaction); a lapsed or cancelled member rejoins with the number they
    had. Joining again while pending changes the type and way of paying. Raises
    ValidationError for an unknown way of paying, a type no longer offered, or someone
    who is already an active member. Audited; one transaction."""
    if pays_by not in PaysBy.values:
        raise ValidationError({"pays_by": _("Choose how the membership is paid.")})
    if not membership_type.active:
        raise ValidationError({"membership_type": _("That membership type is no longer offered.")})
    start = _as_date(started_at, timezone.localdate())
    for attempt in range(2):
        try:
            return _join(
                person=person,
                membership_type=membership_type,
                pays_by=pays_by,
                start=start,
                actor=actor,
                ip=ip,
            )
        except IntegrityError:
            # Someone else made this person's membership at the same moment: the
            # second try finds it (and the rolled-back number was never used).
            if attempt:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _join(*, person, membership_type, pays_by, start, actor, ip) -> Membership:
    membership = _locked(person)
    status = Status.ACTIVE if pays_by == PaysBy.MANUAL else Status.PENDING
    renews_on = add_period(start, membership_type.period) if status == Status.ACTIVE else None
    detail = {"type": membership_type.name, "pays_by": pays_by}
    if membership is not None and membership.status in (Status.ACTIVE, Status.GRACE):
        raise ValidationError(_("This person is already a member."))
    if (
        membership is not None
        and membership.provider_subscription_id
        and (
            membership.status != Status.PENDING
            or PROVIDER_PAYS_BY.get(membership.provider) != pays_by
        )
    ):
        # Rejoining (or paying another way): the earlier subscription stops, and the
        # new one is stored when the provider has made it.
        _stop_provider_subscription(membership)
        _provider_clear(membership)
        _save(membership, "provider", "provider_subscription_id", "provider_mandate_id")
    if membership is not None and membership.status == Status.PENDING:
        membership.membership_type, membership.pays_by = membership_type, pays_by
        membership.status, membership.renews_on = status, renews_on
        _save(membership, "membership_type", "pays_by", "status", "renews_on")
    elif membership is not None:
        membership.membership_type, membership.pays_by = membership_type, pays_by
        membership.status, membership.joined_on, membership.renews_on = status, start, renews_on
        membership.grace_until = membership.lapsed_at = membership.cancelled_at = None
        membership.cancel_reason = ""
        _save(
            membership,
            "membership_type",
            "pays_by",
            "status",
            "joined_on",
            "renews_on",
            "grace_until",
            "lapsed_at",
            "cancelled_at",
            "cancel_reason",
        )
        detail["rejoined"] = True
    else:
        membership = Membership.objects.create(
            person=person,
            membership_type=membership_type,
            status=status,
            number=number_allocate(person=person),
            pays_by=pays_by,
            joined_on=start,
            renews_on=renews_on,
        )
    membership.person = person
    _record(membership, MembershipChange.Kind.JOINED, actor=actor, detail=detail, ip=ip)
    _sync_person(membership, actor=actor, summary=_("Joined as a member (%(type)s)") % detail)
    return membership


# --- The provider's subscription ---------------------------------------------------------


def _provider_clear(membership: Membership) -> None:
    membership.provider = Membership.Provider.NONE
    membership.provider_subscription_id = membership.provider_mandate_id = ""


def _stop_later(
    membership: Membership, *, provider: str, subscription_id: str, mandate_id: str = ""
) -> None:
    """Queue ``subscription_id`` to be stopped at ``provider`` (once: the row is unique
    per subscription) and tell ``cancel_listeners`` after the commit."""
    MembershipProviderStop.objects.get_or_create(
        provider=provider,
        subscription_id=subscription_id,
        defaults={"membership": membership, "mandate_id": mandate_id},
    )
    for listener in cancel_listeners:
        transaction.on_commit(lambda listener=listener: listener(membership), robust=True)


def _stop_provider_subscription(membership: Membership) -> None:
    if membership.provider and membership.provider_subscription_id:
        _stop_later(
            membership,
            provider=membership.provider,
            subscription_id=membership.provider_subscription_id,
            mandate_id=membership.provider_mandate_id,
        )


def membership_provider_release(membership: Membership) -> list[int]:
    """Before erasure or a merge deletes ``membership``: queue its provider
    subscription to be stopped (the stop row outlives the membership), so nobody is
    charged for a membership Clarion no longer holds. Returns the ids of the
    membership's pending stops, for the caller to queue after its commit."""
    _stop_provider_subscription(membership)
    return list(
        MembershipProviderStop.objects.filter(
            membership_id=membership.pk, status=MembershipProviderStop.Status.PENDING
        ).values_list("pk", flat=True)
    )


def provider_subscription_stopped(*, provider: str, subscription_id: str) -> bool:
    """Whether Clarion has queued or finished stopping this subscription (it belonged to
    a membership since cancelled, or was replaced)."""
    return MembershipProviderStop.objects.filter(
        provider=provider, subscription_id=subscription_id
    ).exists()


def provider_subscription_is_old(
    membership: Membership, *, provider: str, subscription_id: str = "", mandate_id: str = ""
) -> bool:
    """Whether an event about ``subscription_id`` (or ``mandate_id``) concerns an
    earlier subscription than the one paying for ``membership`` now, so must not change
    it: another subscription (or mandate) is stored as the current one, or none is
    stored and this one is one Clarion stopped. A membership stored before providers
    were recorded (nothing stored, nothing stopped) answers False."""
    if membership.provider == provider and membership.provider_subscription_id:
        if subscription_id:
            return subscription_id != membership.provider_subscription_id
        return bool(mandate_id) and mandate_id != membership.provider_mandate_id
    stops = MembershipProviderStop.objects.filter(provider=provider)
    if subscription_id:
        return stops.filter(subscription_id=subscription_id).exists()
    return bool(mandate_id) and stops.filter(mandate_id=mandate_id).exists()


@transaction.atomic
def membership_provider_set(
    *, person: Person, provider: str, subscription_id: str, mandate_id: str = ""
) -> Membership | None:
    """Store the provider subscription (and, for GoCardless, its mandate) that pays for
    ``person``'s membership, once the provider has made it. Idempotent.

    Stored only when the membership is paid the way that provider collects (returns
    None otherwise). A different subscription stored before is replaced and queued to
    be stopped, so a member who joined again while pending never pays twice. On a
    cancelled membership the subscription is not stored but queued to be stopped."""
    if provider not in PROVIDER_PAYS_BY or not subscription_id or len(subscription_id) > 100:
        raise ValidationError(_("A provider subscription needs its provider and id."))
    membership = _locked(person)
    if membership is None:
        raise ValidationError(_("This person has no membership."))
    if membership.status == Status.CANCELLED:
        _stop_later(
            membership, provider=provider, subscription_id=subscription_id, mandate_id=mandate_id
        )
        return membership
    if membership.pays_by != PROVIDER_PAYS_BY[provider]:
        log.warning(
            "%s subscription for membership %s, which is paid otherwise: not stored",
            provider,
            membership.pk,
        )
        return None
    current = (membership.provider, membership.provider_subscription_id)
    if current == (provider, subscription_id):
        if mandate_id and membership.provider_mandate_id != mandate_id:
            membership.provider_mandate_id = mandate_id[:100]
            _save(membership, "provider_mandate_id")
        return membership
    _stop_provider_subscription(membership)
    membership.provider = provider
    membership.provider_subscription_id = subscription_id
    membership.provider_mandate_id = (mandate_id or "")[:100]
    _save(membership, "provider", "provider_subscription_id", "provider_mandate_id")
    return membership


# --- Payments -------------------------------------------------------------------------


def _payment_input(provider: str, reference: str) -> tuple[str, str]:
    provider, reference = (provider or "").strip(), (reference or "").strip()
    if not provider or len(provider) > 30 or not reference or len(reference) > 200:
        raise ValidationError(_("A payment needs its provider and reference."))
    return provider, reference


@transaction.atomic
def membership_payment_received(
    *,
    person: Person,
    amount_pence: int,
    paid_at: dt.datetime,
    provider: str,
    reference: str,
) -> Membership:
    """Record a payment of dues and renew: ``renews_on`` moves one period on from the
    later of the payment's day and the current ``renews_on``; a pending membership
    becomes active, one in grace or lapsed is active again. A cancelled membership
    records the payment and stays cancelled (staff refund or rejoin it).

    Idempotent per (provider, reference): the payment row is unique, and a repeat
    returns the membership unchanged. Raises ValidationError when the person has no
    membership (join first) or the amount or reference is unusable. Audited."""
    provider, reference = _payment_input(provider, reference)
    if isinstance(amount_pence, bool) or not isinstance(amount_pence, int) or amount_pence < 0:
        raise ValidationError(_("The amount must be a whole number of pence, 0 or more."))
    membership = _locked(person)
    if membership is None:
        raise ValidationError(_("This person has no membership to pay for."))
    try:
        with transaction.atomic():
            MembershipPayment.objects.create(
                membership=membership,
                provider=provider,
                reference=reference,
                outcome=MembershipPayment.Outcome.PAID,
                amount_pence=amount_pence,
                at=paid_at,
            )
    except IntegrityError:
        return membership
    detail = {"provider": provider, "reference": reference, "amount_pence": amount_pence}
    if membership.status == Status.CANCELLED:
        _record(membership, MembershipChange.Kind.RENEWED, detail={**detail, "ignored": True})
        return membership
    day = _as_date(paid_at, timezone.localdate())
    base = max(day, membership.renews_on or day)
    kind = (
        MembershipChange.Kind.ACTIVATED
        if membership.status == Status.PENDING
        else MembershipChange.Kind.RENEWED
    )
    detail["was"] = membership.status
    membership.status = Status.ACTIVE
    membership.renews_on = add_period(base, membership.membership_type.period)
    membership.grace_until = membership.lapsed_at = None
    _save(membership, "status", "renews_on", "grace_until", "lapsed_at")
    _record(membership, kind, detail=detail, at=paid_at)
    _sync_person(membership)
    return membership


@transaction.atomic
def membership_payment_failed(
    *, person: Person, provider: str, reference: str, failed_at: dt.datetime
) -> Membership:
    """Record a failed payment. An active member enters grace until
    ``CLARION_MEMBERSHIP_GRACE_DAYS`` after the failure (still a member); a second
    failure while in grace does not extend it; a pending, lapsed or cancelled
    membership only records it. Idempotent per (provider, reference). Audited."""
    provider, reference = _payment_input(provider, reference)
    membership = _locked(person)
    if membership is None:
        raise ValidationError(_("This person has no membership to pay for."))
    try:
        with transaction.atomic():
            MembershipPayment.objects.create(
                membership=membership,
                provider=provider,
                reference=reference,
                outcome=MembershipPayment.Outcome.FAILED,
                at=failed_at,
            )
    except IntegrityError:
        return membership
    detail: dict[str, Any] = {"provider": provider, "reference": reference}
    if membership.status == Status.ACTIVE:
        membership.status = Status.GRACE
        membership.grace_until = _as_date(failed_at, timezone.localdate()) + dt.timedelta(
            days=grace_days()
        )
        _save(membership, "status", "grace_until")
    if membership.grace_until:
        detail["grace_until"] = membership.grace_until.isoformat()
    _record(membership, MembershipChange.Kind.PAYMENT_FAILED, detail=detail, at=failed_at)
    return membership


# --- Cancelling and staff changes ------------------------------------------------------


def _notify_cancelled(membership: Membership) -> None:
    """In the cancelling transaction: queue the stored subscription to be stopped at
    the provider, and tell ``cancel_listeners`` after the commit."""
    if membership.provider and membership.provider_subscription_id:
        _stop_provider_subscription(membership)
    else:
        for listener in cancel_listeners:
            transaction.on_commit(lambda listener=listener: listener(membership), robust=True)


@transaction.atomic
def membership_cancel(*, person: Person, reason: str, by=None, ip: str | None = None) -> Membership:
    """Cancel ``person``'s membership now (``by``: the staff user, or None for the
    member themselves or the payment side). ``reason`` is required. Cancelling a
    cancelled membership changes nothing. The stored provider subscription is queued
    to be stopped (``MembershipProviderStop``, in this transaction) and
    ``cancel_listeners`` run after the commit. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason.")})
    membership = _locked(person)
    if membership is None:
        raise ValidationError(_("This person has no membership to cancel."))
    if membership.status == Status.CANCELLED:
        return membership
    was = membership.status
    membership.status = Status.CANCELLED
    membership.cancelled_at = timezone.now()
    membership.cancel_reason = reason[:500]
    membership.grace_until = None
    _save(membership, "status", "cancelled_at", "cancel_reason", "grace_until")
    _record(
        membership,
        MembershipChange.Kind.CANCELLED,
        actor=by,
        reason=reason,
        detail={"was": was, "by": "staff" if getattr(by, "pk", None) else "member"},
        ip=ip,
    )
    _sync_person(membership, actor=by)
    _notify_cancelled(membership)
    return membership


@transaction.atomic
def membership_staff_change(
    *,
    membership: Membership,
    actor,
    reason: str,
    status: str,
    membership_type: MembershipType,
    renews_on: dt.date | None,
    ip: str | None = None,
) -> Membership:
    """A staff correction of status, type and renewal date, with a required reason.
    Grace set by hand runs ``CLARION_MEMBERSHIP_GRACE_DAYS`` from today. Raises
    ValidationError (field → message); audited with what was and what is."""
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = _("Give a reason for the change.")
    if status not in Status.values:
        errors["status"] = _("Unknown membership status.")
    if status in (Status.ACTIVE, Status.GRACE) and renews_on is None:
        errors["renews_on"] = _("An active membership needs a renewal date.")
    if errors:
        raise ValidationError(errors)
    locked = _locked(membership.person)
    if locked is None:
        raise ValidationError(_("This person has no membership."))
    before = {
        "status": locked.status,
        "type": locked.membership_type.name,
        "renews_on": locked.renews_on.isoformat() if locked.renews_on else None,
    }
    now = timezone.now()
    if status != locked.status:
        if status == Status.GRACE:
            locked.grace_until = timezone.localdate() + dt.timedelta(days=grace_days())
        elif status == Status.LAPSED:
            locked.lapsed_at = now
        elif status == Status.CANCELLED:
            locked.cancelled_at, locked.cancel_reason = now, reason[:500]
        if status != Status.GRACE:
            locked.grace_until = None
        if status in (Status.ACTIVE, Status.PENDING):
            locked.lapsed_at = locked.cancelled_at = None
            locked.cancel_reason = ""
    locked.status, locked.membership_type, locked.renews_on = status, membership_type, renews_on
    after = {
        "status": status,
        "type": membership_type.name,
        "renews_on": renews_on.isoformat() if renews_on else None,
    }
    if after == before:
        return locked
    _save(
        locked,
        "status",
        "membership_type",
        "renews_on",
        "grace_until",
        "lapsed_at",
        "cancelled_at",
        "cancel_reason",
    )
    _record(
        locked,
        MembershipChange.Kind.CHANGED,
        actor=actor,
        reason=reason,
        detail={"before": before, "after": after},
        ip=ip,
    )
    _sync_person(locked, actor=actor, summary=_("Membership changed by staff: %s") % reason[:200])
    if status == Status.CANCELLED and before["status"] != Status.CANCELLED:
        _notify_cancelled(locked)
    return locked


# Statuses from which a member may change their type themselves.
TYPE_CHANGEABLE = (Status.PENDING, Status.ACTIVE, Status.GRACE)


def type_change_refusal(membership: Membership | None, membership_type: MembershipType) -> str:
    """Why ``membership`` may not change to ``membership_type`` ("" when it may). Card
    and Direct Debit keep their period: the provider's subscription changes its amount,
    not how often it collects."""
    if membership is None or membership.status not in TYPE_CHANGEABLE:
        return _("Only a current membership can change its type. Join again instead.")
    if not membership_type.active:
        return _("That membership type is no longer offered.")
    if membership_type.pk == membership.membership_type_id:
        return _("That is already your membership type.")
    if (
        membership.pays_by != PaysBy.MANUAL
        and membership_type.period != membership.membership_type.period
    ):
        return _(
            "Your payments are taken every %(now)s, and that type is paid every "
            "%(new)s. To change how often you pay, cancel your membership and join "
            "again with the new type."
        ) % {
            "now": period_word(membership.membership_type.period),
            "new": period_word(membership_type.period),
        }
    return ""


def period_word(period: str) -> str:
    """The word for how often a type of ``period`` is paid ("month" or "year")."""
    return _("year") if period == MembershipType.Period.ANNUAL else _("month")


@transaction.atomic
def membership_type_change(
    *,
    person: Person,
    membership_type: MembershipType,
    was_type_id: int,
    provider_detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> Membership:
    """Record the member's change of type, after the payment side changed the
    provider's subscription (``members.payments.changes.type_change`` calls this; a
    manual or not yet paying membership has nothing to change there). ``was_type_id``
    is the type the caller saw: if the membership changed since, ValidationError, and
    nothing is recorded. Raises ValidationError with ``type_change_refusal``'s reason.
    The renewal date stays. One ``MembershipChange`` (type_changed) and an audit entry."""
    membership = _locked(person)
    if membership is not None and membership.membership_type_id != was_type_id:
        raise ValidationError(_("Your membership changed meanwhile. Please try again."))
    refusal = type_change_refusal(membership, membership_type)
    if refusal:
        raise ValidationError(refusal)
    assert membership is not None
    before = membership.membership_type.name
    membership.membership_type = membership_type
    _save(membership, "membership_type")
    _record(
        membership,
        MembershipChange.Kind.TYPE_CHANGED,
        detail={
            "before": before,
            "after": membership_type.name,
            "pays_by": membership.pays_by,
            **(provider_detail or {}),
        },
        ip=ip,
    )
    return membership


# --- Import ---------------------------------------------------------------------------


@transaction.atomic
def membership_import_row(
    *,
    person: Person,
    membership_type: MembershipType,
    number: int,
    renews_on: dt.date | None,
    status: str,
    actor=None,
    joined_on: dt.date | None = None,
) -> Membership:
    """Store one imported membership with the number it had, and raise the counter
    past it. Importing the same person with the same number again updates type, status
    and renewal date (so a corrected file can be run again); anything that would give
    a number twice raises ValidationError and writes nothing."""
    if status not in Status.values:
        raise ValidationError(_("Unknown status %(status)s.") % {"status": status})
    if status in (Status.ACTIVE, Status.GRACE) and renews_on is None:
        raise ValidationError(_("An active membership needs a renewal date."))
    counter = _counter_locked()
    existing = _locked(person)
    if existing is not None and existing.number != number:
        raise ValidationError(
            _("This person already has membership number %(number)s.") % {"number": existing.number}
        )
    if (
        Membership.objects.filter(number=number).exclude(person_id=person.pk).exists()
        or Person.objects.filter(membership_number=str(number)).exclude(pk=person.pk).exists()
    ):
        raise ValidationError(
            _("Membership number %(number)s belongs to someone else.") % {"number": number}
        )
    today = timezone.localdate()
    membership = existing or Membership(person=person, number=number, pays_by=PaysBy.MANUAL)
    membership.person = person
    membership.membership_type, membership.status, membership.renews_on = (
        membership_type,
        status,
        renews_on,
    )
    membership.joined_on = joined_on or membership.joined_on or today
    membership.grace_until = (
        (membership.grace_until or today + dt.timedelta(days=grace_days()))
        if status == Status.GRACE
        else None
    )
    if status == Status.LAPSED:
        membership.lapsed_at = membership.lapsed_at or timezone.now()
    if status == Status.CANCELLED:
        membership.cancelled_at = membership.cancelled_at or timezone.now()
    membership.updated_at = timezone.now()
    membership.save()
    if number > counter.last:
        counter.last = number
        counter.save(update_fields=["last"])
    _record(
        membership,
        MembershipChange.Kind.IMPORTED,
        actor=actor,
        detail={"type": membership_type.name, "status": status},
        audit=False,
    )
    _sync_person(membership, actor=actor, summary=_("Membership imported"))
    return membership


# --- The daily round: overdue, lapse, reminders, win-back -------------------------------


def memberships_lapse_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Put active members whose renewal date passed with no payment into grace (until
    the renewal date plus the grace days), then lapse those whose grace has ended.

    Each membership is changed under its row lock with the state re-checked, one
    transaction each, so two runs at once lapse a member once. Lapses are audited.
    Returns how many went overdue and how many lapsed."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    overdue = lapsed = 0
    for pk in Membership.objects.filter(status=Status.ACTIVE, renews_on__lt=today).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            m = (
                Membership.objects.select_for_update()
                .filter(pk=pk, status=Status.ACTIVE, renews_on__lt=today)
                .first()
            )
            if m is None:
                continue
            m.status = Status.GRACE
            m.grace_until = m.renews_on + dt.timedelta(days=grace_days())
            _save(m, "status", "grace_until")
            _record(
                m,
                MembershipChange.Kind.OVERDUE,
                detail={"grace_until": m.grace_until.isoformat()},
                at=now,
                audit=False,
            )
            overdue += 1
    for pk in Membership.objects.filter(status=Status.GRACE, grace_until__lt=today).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            m = (
                Membership.objects.select_for_update()
                .select_related("person")
                .filter(pk=pk, status=Status.GRACE, grace_until__lt=today)
                .first()
            )
            if m is None:
                continue
            m.status, m.lapsed_at = Status.LAPSED, now
            _save(m, "status", "lapsed_at")
            _record(
                m,
                MembershipChange.Kind.LAPSED,
                detail={"grace_until": m.grace_until.isoformat()},
                at=now,
            )
            _sync_person(m, summary=_("Membership lapsed"))
            lapsed += 1
    return {"overdue": overdue, "lapsed": lapsed}


def _texts(kind: str) -> tuple[str, str, str]:
    """Name, subject and body (markdown with merge fields) of a membership email."""
    page = site_url(reverse("members:membership"))
    if kind == MembershipNotice.Kind.REMINDER:
        return (
            _("Membership renewal reminders"),
            _("Your membership renews soon"),
            _(
                'Dear {{ first_name|default:"member" }},\n\n'
                "Thank you for being a member. Your membership comes up for renewal "
                "soon. If you pay by card or Direct Debit there is nothing you need "
                "to do. To see your renewal date, how you pay, or to make a change, "
                "open your membership page:\n\n[My membership](%(url)s)\n"
            )
            % {"url": page},
        )
    return (
        _("Membership win-back"),
        _("We miss you"),
        _(
            'Dear {{ first_name|default:"friend" }},\n\n'
            "Your membership has lapsed, and we would love to have you back. Every "
            'member makes the party stronger in {{ area|default:"your area" }}.\n\n'
            "[Rejoin from your membership page](%(url)s)\n"
        )
        % {"url": page},
    )


def _mailing_for(kind: str, month: dt.date) -> int:
    """The standing mailing carrying ``kind`` emails for cycles in ``month``, made on
    first use (two runs making it at once meet on the unique (kind, month))."""
    row = MembershipMailing.objects.filter(kind=kind, month=month).first()
    if row is not None:
        return row.mailing_id
    name, subject, body = _texts(kind)
    from_name, from_email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    try:
        with transaction.atomic():
            mailing = standing_create(
                name=f"{name} {month:%Y-%m}",
                subject=subject,
                body=body,
                from_name=from_name or settings.ORGANISATION_NAME,
                from_email=from_email,
                area=None,
                actor=None,
            )
            MembershipMailing.objects.create(kind=kind, month=month, mailing=mailing)
            return mailing.pk
    except IntegrityError:
        return MembershipMailing.objects.get(kind=kind, month=month).mailing_id


def _queue(kind: str, rows: list[tuple[Person, dt.date]]) -> int:
    """Claim a notice per (person, cycle) and queue the email through the ledger, in
    one transaction per month of cycles. Returns how many emails were queued; a
    person who may not be mailed (not subscribed) keeps the claim, unqueued, so the
    next run does not try again."""
    by_month: dict[dt.date, list[tuple[Person, dt.date]]] = {}
    for person, cycle in rows:
        by_month.setdefault(cycle.replace(day=1), []).append((person, cycle))
    queued = 0
    for month, items in sorted(by_month.items()):
        with transaction.atomic():
            mailing_id = _mailing_for(kind, month)
            added = 0
            for person, cycle in items:
                try:
                    with transaction.atomic():
                        notice = MembershipNotice.objects.create(
                            person=person, kind=kind, cycle=cycle
                        )
                except IntegrityError:
                    continue
                if ledger_add(mailing_id=mailing_id, person=person) is not None:
                    MembershipNotice.objects.filter(pk=notice.pk).update(queued=True)
                    added += 1
            ledger_wake(mailing_id=mailing_id, added=added)
            queued += added
    return queued


def membership_emails_queue(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue the renewal reminders (active members whose ``renews_on`` is within
    ``CLARION_MEMBERSHIP_REMINDER_DAYS``) and win-back emails (members who lapsed in
    the last 30 days) not yet claimed for this cycle. At most one of each kind per
    person per cycle (``MembershipNotice``'s unique row); the mailing ledger sends
    them, re-checking consent. Returns how many of each were queued."""
    now = now or timezone.now()
    today = timezone.localdate(now)

    def unclaimed(kind: str, cycle_field: str):
        return ~Exists(
            MembershipNotice.objects.filter(
                person_id=OuterRef("person_id"), kind=kind, cycle=OuterRef(cycle_field)
            )
        )

    due = (
        Membership.objects.filter(
            status=Status.ACTIVE,
            renews_on__gte=today,
            renews_on__lte=today + dt.timedelta(days=reminder_days()),
        )
        .filter(unclaimed(MembershipNotice.Kind.REMINDER, "renews_on"))
        .select_related("person")
    )
    reminders = _queue(MembershipNotice.Kind.REMINDER, [(m.person, m.renews_on) for m in due])
    lapsed = (
        Membership.objects.filter(status=Status.LAPSED, lapsed_at__gte=now - WINBACK_WITHIN)
        .exclude(lapsed_at__gt=now)
        .select_related("person")
    )
    winbacks = _queue(
        MembershipNotice.Kind.WINBACK,
        [
            (m.person, timezone.localdate(m.lapsed_at))
            for m in lapsed
            if not MembershipNotice.objects.filter(
                person_id=m.person_id,
                kind=MembershipNotice.Kind.WINBACK,
                cycle=timezone.localdate(m.lapsed_at),
            ).exists()
        ],
    )
    return {"reminders": reminders, "winbacks": winbacks}


def membership_round(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: lapse what is due, then queue reminders and win-backs."""
    result = memberships_lapse_due(now=now)
    result.update(membership_emails_queue(now=now))
    if any(result.values()):
        log.info("membership round: %s", result)
    return result
