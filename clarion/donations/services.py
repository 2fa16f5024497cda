"""Writes for donations. Every change of a donation's state goes through here, whether
it came from the test gateway's page, a Stripe webhook or a staff page.

State changes lock the donation row (``select_for_update``) and are idempotent: a
second "succeeded" for the same donation changes nothing, so a redelivered webhook or
a double click never double-counts, double-receipts or double-records the timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from clarion.actions.models import ActionPage
from clarion.actions.services import page_save
from clarion.areas.models import Area
from clarion.core import tokens
from clarion.core.models import AuditEntry, User
from clarion.core.services import audit_record
from clarion.core.site import site_url
from clarion.people.models import Activity, Person
from clarion.people.services import activity_record

from .gateways import CheckoutRequest, GatewayError, default_gateway, gateway_for
from .models import Donation, RecurringPlan, WebhookEvent
from .money import clean_amount, clean_currency, format_money

logger = logging.getLogger(__name__)

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass(frozen=True)
class DonationStart:
    donation: Donation
    redirect_url: str


def page_public_url(page) -> str:
    """The donation page's own address (where a donor goes back to try again)."""
    for name in ("actions:page", "actions:detail"):
        try:
            return reverse(name, kwargs={"slug": page.slug})
        except NoReverseMatch:
            continue
    return reverse("actions:thanks", kwargs={"slug": page.slug})


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable()).strip()[:limit]


def _clean_attribution(attribution: dict | None) -> dict[str, Any]:
    data: dict = attribution if isinstance(attribution, dict) else {}
    raw_utm: dict = data["utm"] if isinstance(data.get("utm"), dict) else {}
    utm = {}
    for key in UTM_KEYS:
        value = _text(raw_utm.get(key) or raw_utm.get(key.removeprefix("utm_")), 200)
        if value:
            utm[key] = value
    recruiter = None
    recruiter_id = data.get("recruiter_id")
    if isinstance(recruiter_id, int) and not isinstance(recruiter_id, bool):
        recruiter = Person.objects.filter(pk=recruiter_id).first()
    return {
        "source": _text(data.get("source"), 100),
        "referrer": _text(data.get("referrer"), 500),
        "utm": utm,
        "mailing_token": _text(data.get("mailing_token"), 300),
        "recruiter": recruiter,
    }


def donation_start(
    *,
    page,
    person: Person,
    amount_pence: int,
    currency: str = "GBP",
    recurring: bool = False,
    attribution: dict | None = None,
) -> DonationStart:
    """Record a pending donation and ask the configured gateway where to send the donor.

    ``page`` is a donation-kind ``actions.ActionPage``. Raises ValidationError (field →
    message: ``amount``, ``currency``, ``recurring``, ``__all__``) for bad input or when
    the gateway refuses or cannot be reached; the donation is then marked failed.

    Commits the pending row *before* calling the gateway (invariant 1: the gift is on
    record whatever the gateway does), and makes the gateway request with no
    transaction of its own open. Call it outside ``transaction.atomic`` so a slow
    gateway never holds database locks.
    """
    from clarion.actions.models import ActionPage

    if not isinstance(page, ActionPage) or page.kind != ActionPage.Kind.DONATION:
        raise ValidationError({"__all__": _("This page does not take donations.")})
    if person is None or not person.pk:
        raise ValidationError({"__all__": _("We need to know who is giving.")})
    amount = clean_amount(amount_pence)
    code = clean_currency(currency)
    if recurring and not getattr(page, "allow_monthly", True):
        raise ValidationError({"recurring": _("This page takes one-off donations only.")})
    gateway = default_gateway()
    donation = Donation.objects.create(
        person=person,
        page=page,
        amount_pence=amount,
        currency=code,
        recurring=bool(recurring),
        gateway=gateway.name,
        **_clean_attribution(attribution),
    )
    request = CheckoutRequest(
        donation_id=donation.pk,
        amount_pence=amount,
        currency=code,
        recurring=bool(recurring),
        description=_("Donation to %(org)s: %(page)s")
        % {"org": settings.ORGANISATION_NAME, "page": page.title},
        email=person.email or "",
        success_url=site_url(gift_thanks_url(donation)),
        cancel_url=site_url(
            reverse("donations:checkout_cancelled", kwargs={"token": _cancel_token(donation)})
        ),
    )
    try:
        result = gateway.checkout_create(request)
    except GatewayError as exc:
        Donation.objects.filter(pk=donation.pk).update(
            status=Donation.Status.FAILED, failure_reason=str(exc)[:200], modified_at=timezone.now()
        )
        raise ValidationError({"__all__": str(exc)}) from exc
    Donation.objects.filter(pk=donation.pk).update(
        gateway_checkout_id=result.checkout_id, modified_at=timezone.now()
    )
    donation.gateway_checkout_id = result.checkout_id
    return DonationStart(donation=donation, redirect_url=result.redirect_url)


GIFT_TOKEN_DAYS = 7


def gift_thanks_url(donation: Donation) -> str:
    """The thank-you page with a signed ``?g=`` naming the gift, so it can confirm the
    amount, how often and where the receipt goes."""
    token = tokens.sign({"d": donation.pk}, salt=tokens.DONATIONS_THANKS)
    url = reverse("actions:thanks", kwargs={"slug": donation.page.slug})
    return f"{url}?{urlencode({'g': token})}"


def _masked(email: str) -> str:
    local, at, domain = (email or "").partition("@")
    if not at or not local:
        return ""
    return f"{local[0]}•••@{domain}"


def gift_for_thanks(token: str, page) -> dict | None:
    """What the thank-you page may say about the gift ``token`` names (only on its own
    page, for a week): amount, monthly, status and a masked receipt address. Nothing
    that names the donor."""
    data = tokens.unsign(token, salt=tokens.DONATIONS_THANKS, max_age=GIFT_TOKEN_DAYS * 86400)
    pk = data.get("d") if isinstance(data, dict) else None
    if not isinstance(pk, int) or isinstance(pk, bool):
        return None
    donation = Donation.objects.select_related("person").filter(pk=pk, page=page).first()
    if donation is None:
        return None
    return {
        "amount": format_money(donation.amount_pence, donation.currency),
        "monthly": donation.recurring,
        "status": donation.status,
        "email": _masked(donation.person.email) if donation.person else "",
    }


def _cancel_token(donation: Donation) -> str:
    return tokens.sign({"d": donation.pk}, salt=tokens.DONATIONS_CANCEL)


def cancel_token_read(token: str) -> int | None:
    data = tokens.unsign(token, salt=tokens.DONATIONS_CANCEL, max_age=7 * 24 * 3600)
    value = data.get("d") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


# --- state changes --------------------------------------------------------------


def _locked(donation_id: int) -> Donation | None:
    return Donation.objects.select_for_update().filter(pk=donation_id).first()


def _permissibility_for(donation: Donation) -> str:
    """Flag a donation at or above the threshold, or one that takes its donor's total
    for the calendar year (organisation's time zone) from below the threshold to it."""
    threshold = settings.CLARION_PERMISSIBILITY_THRESHOLD_PENCE
    if donation.amount_pence >= threshold:
        return Donation.Permissibility.PENDING
    if donation.person_id is None:
        return Donation.Permissibility.NOT_REQUIRED
    year = timezone.localdate().year
    before = (
        Donation.objects.filter(
            person_id=donation.person_id, status=Donation.Status.SUCCEEDED, succeeded_at__year=year
        )
        .exclude(pk=donation.pk)
        .aggregate(total=Sum(F("amount_pence") - F("refunded_pence")))["total"]
        or 0
    )
    if before < threshold <= before + donation.amount_pence:
        return Donation.Permissibility.PENDING
    return Donation.Permissibility.NOT_REQUIRED


def _timeline(donation: Donation, summary: str, event: str) -> None:
    person = donation.person
    if person is None:
        return
    activity_record(
        person=person,
        kind=Activity.Kind.DONATION,
        summary=summary,
        data={
            "event": event,
            "donation_id": donation.pk,
            "page_id": donation.page_id,
            "amount_pence": donation.amount_pence,
            "currency": donation.currency,
            "recurring": donation.recurring,
        },
    )


def _receipt_enqueue(donation_id: int) -> None:
    from .tasks import donation_receipt_task

    transaction.on_commit(lambda: donation_receipt_task.enqueue(donation_id))


def donation_succeed(
    *,
    donation_id: int,
    payment_intent_id: str = "",
    charge_id: str = "",
    subscription_id: str = "",
    invoice_id: str = "",
    customer_id: str = "",
) -> Donation | None:
    """Mark a donation paid: timeline entry, permissibility flag, receipt queued, and
    for a monthly gift its RecurringPlan. Idempotent; None if there is no such donation.

    A pending, failed or cancelled donation may succeed (a donor can retry a declined
    card inside the same checkout); a refunded one stays refunded.
    """
    with transaction.atomic():
        donation = _locked(donation_id)
        if donation is None:
            return None
        if donation.status not in (
            Donation.Status.PENDING,
            Donation.Status.FAILED,
            Donation.Status.CANCELLED,
        ):
            return donation
        now = timezone.now()
        donation.status = Donation.Status.SUCCEEDED
        donation.succeeded_at = now
        donation.modified_at = now
        donation.failure_reason = ""
        donation.gateway_payment_intent_id = payment_intent_id or donation.gateway_payment_intent_id
        donation.gateway_charge_id = charge_id or donation.gateway_charge_id
        donation.gateway_subscription_id = subscription_id or donation.gateway_subscription_id
        donation.gateway_invoice_id = invoice_id or donation.gateway_invoice_id
        donation.permissibility = _permissibility_for(donation)
        plan_started = donation.recurring and donation.plan_id is None
        if plan_started:
            donation.plan = RecurringPlan.objects.create(
                person_id=donation.person_id,
                page_id=donation.page_id,
                amount_pence=donation.amount_pence,
                currency=donation.currency,
                gateway=donation.gateway,
                gateway_subscription_id=subscription_id
                or (f"test_sub_{donation.pk}" if donation.gateway == "test" else ""),
                gateway_customer_id=customer_id,
            )
            if not donation.gateway_subscription_id:
                donation.gateway_subscription_id = donation.plan.gateway_subscription_id
        donation.save()
        amount = format_money(donation.amount_pence, donation.currency)
        summary = (
            _("Started a monthly donation of %(amount)s on %(page)s")
            if plan_started
            else _("Donated %(amount)s on %(page)s")
        ) % {"amount": amount, "page": donation.page.title}
        _timeline(donation, summary, "succeeded")
        _receipt_enqueue(donation.pk)
    return donation


def donation_fail(
    *, donation_id: int, reason: str = "", payment_intent_id: str = ""
) -> Donation | None:
    """Mark a pending donation failed (card declined). Idempotent; a donation that has
    already succeeded is left alone."""
    with transaction.atomic():
        donation = _locked(donation_id)
        if donation is None or donation.status != Donation.Status.PENDING:
            return donation
        donation.status = Donation.Status.FAILED
        donation.failure_reason = reason[:200]
        donation.gateway_payment_intent_id = payment_intent_id or donation.gateway_payment_intent_id
        donation.modified_at = timezone.now()
        donation.save(
            update_fields=["status", "failure_reason", "gateway_payment_intent_id", "modified_at"]
        )
    return donation


def donation_cancel(*, donation_id: int) -> Donation | None:
    """The donor left the checkout without paying. Only a pending donation changes."""
    with transaction.atomic():
        donation = _locked(donation_id)
        if donation is None or donation.status != Donation.Status.PENDING:
            return donation
        donation.status = Donation.Status.CANCELLED
        donation.modified_at = timezone.now()
        donation.save(update_fields=["status", "modified_at"])
    return donation


def donation_refund_record(*, donation_id: int, refunded_pence: int) -> Donation | None:
    """Record that ``refunded_pence`` in total (not an increment) has been refunded.

    A full refund makes the donation ``refunded`` and puts it on the timeline once;
    a partial one lowers what the donation counts for. Idempotent.
    """
    with transaction.atomic():
        donation = _locked(donation_id)
        if donation is None or donation.status not in (
            Donation.Status.SUCCEEDED,
            Donation.Status.REFUNDED,
        ):
            return donation
        total = max(0, min(int(refunded_pence), donation.amount_pence))
        if total <= donation.refunded_pence:
            return donation
        now = timezone.now()
        donation.refunded_pence = total
        donation.modified_at = now
        if total >= donation.amount_pence:
            donation.status = Donation.Status.REFUNDED
            donation.refunded_at = now
        donation.save(update_fields=["refunded_pence", "status", "refunded_at", "modified_at"])
        _timeline(
            donation,
            _("Refunded %(amount)s of a donation on %(page)s")
            % {"amount": format_money(total, donation.currency), "page": donation.page.title},
            "refunded",
        )
    return donation


def plan_renewal_record(
    *,
    plan: RecurringPlan,
    invoice_id: str,
    amount_pence: int | None = None,
    currency: str = "",
    payment_intent_id: str = "",
    charge_id: str = "",
) -> Donation:
    """A monthly payment of ``plan`` arrived: one new succeeded Donation per invoice id.

    Idempotent on (gateway, invoice id): a second call returns the existing donation.
    """
    if not invoice_id:
        raise ValueError("a renewal needs the gateway's invoice id")
    existing = Donation.objects.filter(gateway=plan.gateway, gateway_invoice_id=invoice_id).first()
    if existing is not None:
        return existing
    first = plan.donations.order_by("pk").first()
    try:
        with transaction.atomic():
            donation = Donation.objects.create(
                person_id=plan.person_id,
                page_id=plan.page_id,
                plan=plan,
                amount_pence=amount_pence or plan.amount_pence,
                currency=(currency or plan.currency).upper(),
                recurring=True,
                gateway=plan.gateway,
                gateway_subscription_id=plan.gateway_subscription_id,
                gateway_invoice_id=invoice_id,
                source=first.source if first else "",
                mailing_token=first.mailing_token if first else "",
                recruiter_id=first.recruiter_id if first else None,
            )
            donation_succeed(
                donation_id=donation.pk, payment_intent_id=payment_intent_id, charge_id=charge_id
            )
    except IntegrityError:
        # A concurrent delivery of the same invoice created it first.
        return Donation.objects.get(gateway=plan.gateway, gateway_invoice_id=invoice_id)
    donation.refresh_from_db()
    return donation


def plan_cancel(
    *,
    plan: RecurringPlan,
    reason: str = "",
    actor: User | None = None,
    request: HttpRequest | None = None,
    tell_gateway: bool = False,
) -> RecurringPlan:
    """Stop a monthly gift. Idempotent. With ``tell_gateway`` (a staff cancellation) the
    gateway's subscription is cancelled after commit by a task; a cancellation that came
    from the gateway itself (webhook) does not call back."""
    if actor is not None and not actor.can_write:
        raise PermissionDenied
    with transaction.atomic():
        locked = RecurringPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.status == RecurringPlan.Status.CANCELLED:
            return locked
        locked.status = RecurringPlan.Status.CANCELLED
        locked.cancelled_at = timezone.now()
        locked.cancel_reason = reason[:200]
        locked.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        if locked.person is not None:
            activity_record(
                person=locked.person,
                kind=Activity.Kind.DONATION,
                summary=_("Monthly donation of %(amount)s stopped")
                % {"amount": format_money(locked.amount_pence, locked.currency)},
                data={"event": "plan_cancelled", "plan_id": locked.pk, "reason": reason[:200]},
                actor=actor,
            )
        if actor is not None:
            audit_record(
                actor=actor,
                action=AuditEntry.Action.OTHER,
                summary=f"Cancelled recurring plan #{locked.pk}",
                object_type="recurring_plan",
                object_id=locked.pk,
                detail={"event": "plan_cancelled", "reason": reason[:200]},
                request=request,
            )
        if tell_gateway and locked.gateway_subscription_id:
            from .tasks import plan_gateway_cancel_task

            plan_id = locked.pk
            transaction.on_commit(lambda: plan_gateway_cancel_task.enqueue(plan_id))
    return locked


def plan_gateway_cancel(*, plan_id: int) -> str:
    """Cancel ``plan_id``'s subscription at its gateway (task body). Safe to repeat."""
    plan = RecurringPlan.objects.filter(pk=plan_id).first()
    if plan is None or not plan.gateway_subscription_id:
        return "skipped"
    gateway_for(plan.gateway).subscription_cancel(plan.gateway_subscription_id)
    return "cancelled"


def test_renewal_simulate(
    *, plan: RecurringPlan, actor: User, request: HttpRequest | None = None
) -> Donation:
    """Staff button for the test gateway: pretend a month has passed and it paid."""
    if plan.gateway != "test":
        raise ValidationError(_("Only test-gateway plans can be renewed by hand."))
    if plan.status != RecurringPlan.Status.ACTIVE:
        raise ValidationError(_("This plan is cancelled."))
    if not actor.can_write:
        raise PermissionDenied
    import uuid

    return plan_renewal_record(plan=plan, invoice_id=f"test_in_{uuid.uuid4().hex[:16]}")


# --- compliance -----------------------------------------------------------------


def permissibility_decide(
    *, donation: Donation, decision: str, note: str, actor: User, request: HttpRequest | None = None
) -> Donation:
    """Clear or reject a flagged donation (audited). Raises ValidationError if it is
    not waiting for a check any more (someone else decided first)."""
    if not actor.can_write:
        raise PermissionDenied
    if decision not in (Donation.Permissibility.CLEARED, Donation.Permissibility.REJECTED):
        raise ValidationError(_("Choose clear or reject."))
    with transaction.atomic():
        locked = _locked(donation.pk)
        if locked is None or locked.permissibility != Donation.Permissibility.PENDING:
            raise ValidationError(_("This donation is not waiting for a check any more."))
        locked.permissibility = decision
        locked.permissibility_note = note[:500]
        locked.permissibility_by = actor
        locked.permissibility_at = timezone.now()
        locked.save(
            update_fields=[
                "permissibility",
                "permissibility_note",
                "permissibility_by",
                "permissibility_at",
            ]
        )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.OTHER,
            summary=f"Permissibility {decision} for donation #{locked.pk} "
            f"({format_money(locked.amount_pence, locked.currency)})",
            object_type="donation",
            object_id=locked.pk,
            detail={
                "event": f"permissibility_{decision}",
                "note": note[:500],
                "person_id": locked.person_id,
            },
            request=request,
        )
    return locked


# --- receipts -------------------------------------------------------------------


def receipt_send(*, donation_id: int) -> str:
    """Email the donor a receipt for ``donation_id`` once (task body).

    Holds the donation's row lock while sending, so two workers cannot both send;
    ``receipt_sent_at`` set in the same transaction makes a repeat a no-op.
    """
    from .emails import receipt_message

    with transaction.atomic():
        donation = (
            Donation.objects.select_for_update(of=("self",))
            .select_related("person", "page", "plan")
            .filter(pk=donation_id)
            .first()
        )
        if donation is None or donation.receipt_sent_at is not None:
            return "skipped"
        if donation.status != Donation.Status.SUCCEEDED:
            return "not paid"
        if donation.person is None or not donation.person.email:
            return "no address"
        receipt_message(donation).send()
        donation.receipt_sent_at = timezone.now()
        donation.save(update_fields=["receipt_sent_at"])
    return "sent"


# --- webhooks -------------------------------------------------------------------


def webhook_event_claim(*, gateway: str, event_id: str, type: str) -> WebhookEvent | None:
    """Insert the event's row inside the caller's transaction; None if it was seen
    before. Two concurrent deliveries of one event: the second waits on the unique
    index until the first commits, then gets None."""
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                gateway=gateway, event_id=event_id[:255], type=type[:100]
            )
    except IntegrityError:
        return None


# --- gifts processed elsewhere --------------------------------------------------

EXTERNAL_GATEWAY = "external"


def _external_gift_check(*, page, person: Person | None, amount_pence: int) -> None:
    """ValidationError unless ``page`` takes donations, the donor is saved and the
    amount is a whole number of pence within the single-gift limit."""
    from clarion.actions.models import ActionPage

    from .money import max_pence

    if not isinstance(page, ActionPage) or page.kind != ActionPage.Kind.DONATION:
        raise ValidationError({"__all__": _("This page does not take donations.")})
    if person is None or not person.pk:
        raise ValidationError({"__all__": _("We need to know who gave.")})
    if isinstance(amount_pence, bool) or not isinstance(amount_pence, int) or amount_pence < 1:
        raise ValidationError({"amount": _("The amount must be more than nothing.")})
    if amount_pence > max_pence():
        raise ValidationError(
            {
                "amount": _("A single gift can be at most %(max)s.")
                % {"max": format_money(max_pence())}
            }
        )


def _external_gift_noted(*, donation: Donation, actor: User | None) -> None:
    """A recorded gift on the donor's timeline and in the audit log."""
    amount = format_money(donation.amount_pence, donation.currency)
    _timeline(
        donation,
        _("Donated %(amount)s on %(page)s (recorded from %(origin)s)")
        % {
            "amount": amount,
            "page": donation.page.title,
            "origin": donation.origin_system or _("another system"),
        },
        "recorded",
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.OTHER,
        summary=f"Donation #{donation.pk} of {amount} recorded from {donation.origin_system or 'the API'}",
        object_type="donation",
        object_id=donation.pk,
    )


def donation_record_external(
    *,
    page,
    person: Person,
    amount_pence: int,
    currency: str = "GBP",
    recurring: bool = False,
    donated_at=None,
    payment_method: str = "",
    reference: str = "",
    origin_system: str = "",
    attribution: dict | None = None,
    actor: User | None = None,
) -> tuple[Donation, bool]:
    """Record a gift another system already took (Action Network's record donation
    helper): stored as succeeded with gateway ``external``, on the donor's timeline,
    flagged for a permissibility check like any other gift. No gateway is called, no
    plan is started for a recurring gift (the other system collects it) and no receipt
    is sent (whoever took the money receipts it).

    ``reference`` (the other system's payment reference) makes the call idempotent: a
    second call with it returns the first donation and ``False``; the unique
    (gateway, checkout id) constraint holds this under concurrency. Returns
    (donation, created). Raises ValidationError (``amount``, ``currency``, ``__all__``).
    """
    _external_gift_check(page=page, person=person, amount_pence=amount_pence)
    code = clean_currency(currency)
    reference = _text(reference, 255)
    now = timezone.now()
    donated_at = min(donated_at or now, now)
    with transaction.atomic():
        if reference:
            existing = Donation.objects.filter(
                gateway=EXTERNAL_GATEWAY, gateway_checkout_id=reference
            ).first()
            if existing is not None:
                return existing, False
        try:
            with transaction.atomic():
                donation = Donation.objects.create(
                    person=person,
                    page=page,
                    amount_pence=amount_pence,
                    currency=code,
                    recurring=bool(recurring),
                    status=Donation.Status.SUCCEEDED,
                    gateway=EXTERNAL_GATEWAY,
                    gateway_checkout_id=reference,
                    payment_method=_text(payment_method, 30),
                    origin_system=_text(origin_system, 100),
                    created_at=donated_at,
                    succeeded_at=donated_at,
                    modified_at=now,
                    **_clean_attribution(attribution),
                )
        except IntegrityError:
            return Donation.objects.get(
                gateway=EXTERNAL_GATEWAY, gateway_checkout_id=reference
            ), False
        donation.permissibility = _permissibility_for(donation)
        donation.save(update_fields=["permissibility"])
        _external_gift_noted(donation=donation, actor=actor)
    return donation, True


def _free_page_slug(title: str) -> str:
    base = slugify(title)[:70] or "fundraiser"
    slug, n = base, 1
    while ActionPage.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def fundraising_page_create(*, fields: dict[str, Any], area: Area | None, actor) -> ActionPage:
    """A donation page made through the API, with ``fields`` (ActionPage attributes
    already checked by the caller) and a web address made from its title. It starts
    hidden (a draft) unless ``fields`` say otherwise: such a page is usually where gifts
    taken elsewhere are recorded, and staff publish it when it should take gifts
    online."""
    page = ActionPage(kind=ActionPage.Kind.DONATION, status=ActionPage.Status.DRAFT, area=area)
    for name, value in fields.items():
        setattr(page, name, value)
    page.slug = _free_page_slug(page.title)
    return page_save(page=page, actor=actor)


@transaction.atomic
def fundraising_page_update(*, page: ActionPage, fields: dict[str, Any], actor) -> ActionPage:
    """Change the attributes in ``fields`` (checked by the caller) of a donation page
    and save it; the row is locked while it changes so two updates do not interleave."""
    page = ActionPage.objects.select_for_update().get(pk=page.pk)
    for name, value in fields.items():
        setattr(page, name, value)
    return page_save(page=page, actor=actor)
