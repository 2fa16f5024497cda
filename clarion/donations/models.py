"""Donations, recurring plans and the gateway events that changed them.

Money is integer minor units (``amount_pence``) with an ISO currency code. Rows are
changed only through ``donations.services``. Donations are financial records: erasing
a donor detaches and anonymises their rows instead of deleting them (see privacy.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RecurringPlan(models.Model):
    """A monthly gift: one subscription at the gateway, one Donation per payment."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")

    person = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recurring_plans",
    )
    page = models.ForeignKey(
        "actions.ActionPage", on_delete=models.PROTECT, related_name="recurring_plans"
    )
    amount_pence = models.PositiveIntegerField(_("amount (pence)"))
    currency = models.CharField(_("currency"), max_length=3, default="GBP")
    interval = models.CharField(max_length=10, choices=Interval, default=Interval.MONTH)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.ACTIVE)
    gateway = models.CharField(max_length=20)
    gateway_subscription_id = models.CharField(max_length=255, blank=True)
    gateway_customer_id = models.CharField(max_length=255, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "gateway_subscription_id"],
                condition=~Q(gateway_subscription_id=""),
                name="plan_subscription_unique",
            ),
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="plan_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"plan #{self.pk}"


class Donation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")

    class Permissibility(models.TextChoices):
        NOT_REQUIRED = "not_required", _("Not required")
        PENDING = "pending", _("Check needed")
        CLEARED = "cleared", _("Cleared")
        REJECTED = "rejected", _("Rejected")

    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="donations"
    )
    page = models.ForeignKey(
        "actions.ActionPage", on_delete=models.PROTECT, related_name="donations"
    )
    plan = models.ForeignKey(
        RecurringPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="donations"
    )
    amount_pence = models.PositiveIntegerField(_("amount (pence)"))
    refunded_pence = models.PositiveIntegerField(_("refunded (pence)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="GBP")
    recurring = models.BooleanField(_("monthly"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    failure_reason = models.CharField(max_length=200, blank=True)

    gateway = models.CharField(_("gateway"), max_length=20)
    gateway_checkout_id = models.CharField(max_length=255, blank=True)
    gateway_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    gateway_charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    gateway_subscription_id = models.CharField(max_length=255, blank=True)
    gateway_invoice_id = models.CharField(max_length=255, blank=True)
    # Gifts processed elsewhere and recorded through the API (gateway "external").
    payment_method = models.CharField(_("payment method"), max_length=30, blank=True)
    origin_system = models.CharField(_("recorded from"), max_length=100, blank=True)

    # Attribution: where the gift came from.
    source = models.CharField(_("source"), max_length=100, blank=True)
    referrer = models.CharField(_("referrer"), max_length=500, blank=True)
    utm = models.JSONField(_("UTM fields"), default=dict, blank=True)
    mailing_token = models.CharField(max_length=300, blank=True)
    recruiter = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recruited_donations",
    )

    permissibility = models.CharField(
        _("permissibility"),
        max_length=15,
        choices=Permissibility,
        default=Permissibility.NOT_REQUIRED,
    )
    permissibility_note = models.CharField(max_length=500, blank=True)
    permissibility_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    permissibility_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(default=timezone.now)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_pence__gt=0), name="donation_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(refunded_pence__lte=models.F("amount_pence")),
                name="donation_refund_le_amount",
            ),
            # One renewal Donation per gateway invoice, however often the webhook comes.
            models.UniqueConstraint(
                fields=["gateway", "gateway_invoice_id"],
                condition=~Q(gateway_invoice_id=""),
                name="donation_invoice_unique",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_checkout_id"],
                condition=~Q(gateway_checkout_id=""),
                name="donation_checkout_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["page", "status"], name="donation_page_status_idx"),
            models.Index(fields=["person", "status"], name="donation_person_status_idx"),
            models.Index(fields=["permissibility"], name="donation_permissibility_idx"),
            # Segments: the donors of counted gifts (segments.counted_gifts), index only.
            models.Index(
                fields=["person", "succeeded_at"],
                condition=Q(status="succeeded", refunded_pence__lt=models.F("amount_pence")),
                name="donation_counted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"donation #{self.pk}"

    @property
    def net_pence(self) -> int:
        return self.amount_pence - self.refunded_pence


class WebhookEvent(models.Model):
    """A gateway event already handled. The unique event id makes handling idempotent:
    a redelivered event finds its row and does nothing."""

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)
    processed = models.BooleanField(default=False)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="webhook_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.event_id}"
