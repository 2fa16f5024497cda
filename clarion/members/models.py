"""What the members' home stores: sign-in links, member sessions and membership cards.

No secret is stored readable: a sign-in link and a member session are kept as the
SHA-256 of their random value, so a copy of the database cannot be used to sign in.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SignInLink(models.Model):
    """One emailed sign-in link: single use, short-lived, bound to the browser that
    asked for it (``browser_hash`` is the hash of a random value kept in that
    browser's cookie)."""

    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="member_sign_in_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    browser_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in link")
        verbose_name_plural = _("sign-in links")

    def __str__(self) -> str:
        return f"sign-in link {self.pk} for person {self.person_id}"


class MemberSession(models.Model):
    """A signed-in member's browser. The cookie holds a random key; the row its hash.

    Separate from Django's (staff) sessions: a staff login never makes anyone a member
    and a member session never reaches a staff page.
    """

    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="member_sessions"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("member session")
        verbose_name_plural = _("member sessions")

    def __str__(self) -> str:
        return f"member session {self.pk} for person {self.person_id}"


class MemberCard(models.Model):
    """The random code a membership card's QR code carries (signed), so the card names
    the member without carrying anything about them. A new code voids older cards."""

    person = models.OneToOneField(
        "people.Person", on_delete=models.CASCADE, related_name="member_card"
    )
    code = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership card")
        verbose_name_plural = _("membership cards")

    def __str__(self) -> str:
        return f"card for person {self.person_id}"


# --- Membership ------------------------------------------------------------------------
# Written only through ``members.membership`` (the lifecycle services), which keeps
# ``Person.membership_status`` / ``membership_number`` / ``joined_on`` / ``renews_on`` in
# step through ``people.services.person_membership_set``.


class MembershipType(models.Model):
    """A kind of membership staff offer (e.g. "Standard", "Concession"), at a rate per
    period. Retired types stay (``active`` off) so existing members keep theirs."""

    class Period(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        ANNUAL = "annual", _("Annual")

    name = models.CharField(_("name"), max_length=100, unique=True)
    rate_pence = models.PositiveIntegerField(_("rate in pence"))
    period = models.CharField(_("period"), max_length=10, choices=Period)
    active = models.BooleanField(_("offered to new members"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("membership type")
        verbose_name_plural = _("membership types")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period__in=["monthly", "annual"]),
                name="membership_type_period_valid",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MembershipNumberCounter(models.Model):
    """The last membership number handed out: one row (pk 1), locked with
    ``SELECT … FOR UPDATE`` inside the joining transaction, so numbers are gapless
    and never reused (see ``members.membership.number_allocate``)."""

    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"last membership number {self.last}"


class Membership(models.Model):
    """A person's membership: one per person, kept across lapses and rejoins, so a
    person keeps their number for life."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the first payment")
        ACTIVE = "active", _("Active")
        GRACE = "grace", _("In arrears (grace period)")
        LAPSED = "lapsed", _("Lapsed")
        CANCELLED = "cancelled", _("Cancelled")

    class PaysBy(models.TextChoices):
        CARD = "card", _("Card")
        DIRECT_DEBIT = "direct_debit", _("Direct Debit")
        MANUAL = "manual", _("Paid by hand (cash, cheque, transfer)")

    class Provider(models.TextChoices):
        NONE = "", _("None")
        GOCARDLESS = "gocardless", _("GoCardless")
        STRIPE = "stripe", _("Stripe")

    person = models.OneToOneField(
        "people.Person", on_delete=models.CASCADE, related_name="membership"
    )
    membership_type = models.ForeignKey(
        MembershipType, on_delete=models.PROTECT, related_name="memberships"
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    number = models.PositiveBigIntegerField(unique=True)
    pays_by = models.CharField(max_length=20, choices=PaysBy)
    joined_on = models.DateField()
    renews_on = models.DateField(null=True, blank=True)
    grace_until = models.DateField(null=True, blank=True)
    lapsed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    # The provider's subscription paying for the membership now (card: Stripe; Direct
    # Debit: GoCardless, with the mandate it collects on). Empty for manual payers and
    # for memberships that joined before these were stored.
    provider = models.CharField(max_length=20, choices=Provider, blank=True, default="")
    provider_subscription_id = models.CharField(max_length=100, blank=True, default="")
    provider_mandate_id = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        indexes = [
            models.Index(fields=["status", "grace_until"], name="membership_grace_idx"),
            models.Index(fields=["status", "renews_on"], name="membership_renews_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["pending", "active", "grace", "lapsed", "cancelled"]
                ),
                name="membership_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(pays_by__in=["card", "direct_debit", "manual"]),
                name="membership_pays_by_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="grace") | models.Q(grace_until__isnull=False),
                name="membership_grace_has_end",
            ),
            models.CheckConstraint(
                condition=models.Q(provider__in=["", "gocardless", "stripe"]),
                name="membership_provider_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"membership {self.number} of person {self.person_id}"


class MembershipPayment(models.Model):
    """One payment outcome a provider told us about. Unique per (provider, reference,
    outcome), so a repeated webhook is recognised and changes nothing; a payment that
    failed and was later collected (same reference) is one row of each."""

    class Outcome(models.TextChoices):
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="payments")
    provider = models.CharField(max_length=30)
    reference = models.CharField(max_length=200)
    outcome = models.CharField(max_length=10, choices=Outcome)
    amount_pence = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership payment")
        verbose_name_plural = _("membership payments")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reference", "outcome"], name="membership_payment_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.reference} {self.outcome}"


class MembershipProviderStop(models.Model):
    """A provider subscription Clarion has to stop: queued in the transaction that
    cancels the membership (or replaces the subscription), then stopped at the provider
    by ``members.payments.stops`` with retries until the provider confirms. One row per
    (provider, subscription), so the row also marks the subscription as stopped: a late
    webhook about it never touches the membership again."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be stopped at the provider")
        DONE = "done", _("Stopped at the provider")

    # Kept (naming no membership) when erasure deletes the membership, so an erased
    # person's subscription is still stopped and a late webhook about it still ignored.
    membership = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="provider_stops",
    )
    provider = models.CharField(max_length=20, choices=Membership.Provider)
    subscription_id = models.CharField(max_length=100)
    mandate_id = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=300, blank=True, default="")
    outcome = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("provider subscription to stop")
        verbose_name_plural = _("provider subscriptions to stop")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="membership_stop_due_idx"),
            models.Index(fields=["provider", "mandate_id"], name="membership_stop_mandate_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "subscription_id"], name="membership_stop_once"
            ),
            models.CheckConstraint(
                condition=models.Q(provider__in=["gocardless", "stripe"])
                & ~models.Q(subscription_id=""),
                name="membership_stop_names_subscription",
            ),
        ]

    def __str__(self) -> str:
        return f"stop {self.provider} {self.subscription_id} ({self.status})"


class MembershipChange(models.Model):
    """The history of a membership, append-only: joins, renewals, failures, lapses,
    cancellations and staff changes. The staff report counts these per month."""

    class Kind(models.TextChoices):
        JOINED = "joined", _("Joined")
        ACTIVATED = "activated", _("First payment received")
        RENEWED = "renewed", _("Renewed")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        OVERDUE = "overdue", _("Renewal overdue")
        LAPSED = "lapsed", _("Lapsed")
        CANCELLED = "cancelled", _("Cancelled")
        CHANGED = "changed", _("Changed by staff")
        TYPE_CHANGED = "type_changed", _("Type changed by the member")
        IMPORTED = "imported", _("Imported")

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20, choices=Kind)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        "core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("membership change")
        verbose_name_plural = _("membership changes")

    def __str__(self) -> str:
        return f"{self.kind} ({self.membership_id})"


class MembershipNotice(models.Model):
    """A renewal reminder or win-back email claimed for one person and one cycle (the
    renewal date it reminds of, or the day the membership lapsed). The unique row is
    what makes each go at most once per person per cycle."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("Renewal reminder")
        WINBACK = "winback", _("Win-back after lapsing")

    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="membership_notices"
    )
    kind = models.CharField(max_length=10, choices=Kind)
    cycle = models.DateField()
    queued = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership email")
        verbose_name_plural = _("membership emails")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "kind", "cycle"], name="membership_notice_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.cycle} for person {self.person_id}"


class MembershipMailing(models.Model):
    """The standing mailing (``mailings.single``) that carries one kind of membership
    email for one month of cycles. One mailing per month, not one for ever, because
    the ledger sends a person at most one copy per mailing and a member gets a
    reminder every cycle."""

    kind = models.CharField(max_length=10, choices=MembershipNotice.Kind)
    month = models.DateField()
    mailing = models.OneToOneField(
        "mailings.Mailing", on_delete=models.CASCADE, related_name="membership_mailing"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "month"], name="membership_mailing_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.month:%Y-%m}"


# --- Passkeys and the recruiters' table --------------------------------------------------


class Passkey(models.Model):
    """A member's WebAuthn credential (a passkey): the credential id and public key the
    authenticator gave at registration, and its signature counter. Optional: the emailed
    sign-in link always works."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="passkeys")
    credential_id = models.BinaryField(max_length=1023)
    credential_id_hash = models.CharField(max_length=64, unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")

    def __str__(self) -> str:
        return f"passkey {self.pk} of person {self.person_id}"


class RecruitersTableOptIn(models.Model):
    """A member who chose to appear (first name and initial, count of recruits) in their
    area's recruiters' table. No row: not shown."""

    person = models.OneToOneField(
        "people.Person", on_delete=models.CASCADE, related_name="recruiters_table_opt_in"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("recruiters' table opt-in")
        verbose_name_plural = _("recruiters' table opt-ins")

    def __str__(self) -> str:
        return f"recruiters' table: person {self.person_id}"
