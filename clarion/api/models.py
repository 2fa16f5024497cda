from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A token for the Action Network–compatible API, acting as its ``owner``.

    Only a SHA-256 of the token is stored (tokens are 256-bit random, so a slow hash
    adds nothing); ``prefix`` is the token's first characters, shown to staff so they
    can tell keys apart and revoke one. A key never reaches more than its owner: the
    people it sees are ``people_for(owner)``, narrowed further to ``area`` when set,
    and it writes only when both the key and the owner may write.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    class Resource(models.TextChoices):
        PEOPLE = "people", _("People, lists and queries")
        TAGS = "tags", _("Tags and taggings")
        ACTIONS = "actions", _("Petitions and forms")
        EVENTS = "events", _("Events and attendances")
        DONATIONS = "donations", _("Fundraising pages and donations")
        MESSAGES = "messages", _("Messages (mailings)")

    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    scope = models.CharField(_("access"), max_length=10, choices=Scope, default=Scope.WRITE)
    resources = models.JSONField(
        _("resources"), default=list, blank=True, help_text=_("Empty means every resource.")
    )
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Narrows the key to this area (inside the owner's own scope)."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["read", "write"]), name="apikey_scope_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.owner})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.owner.is_active

    @property
    def can_write(self) -> bool:
        return self.is_active and self.scope == self.Scope.WRITE and self.owner.can_write

    def allows(self, resource: str) -> bool:
        return not self.resources or resource in self.resources


class Webhook(models.Model):
    """An address that receives a signed POST for each event of ``event_type``.

    Webhooks carry everyone's data, so only admins register them. ``secret`` signs each
    delivery (HMAC-SHA256 over the raw body); it is kept in clear because signing needs it.
    """

    class EventType(models.TextChoices):
        PERSON_SIGNUP = "person_signup", _("Person signup")
        SIGNATURE = "signature", _("Petition signature")
        SUBMISSION = "submission", _("Form submission")
        ATTENDANCE = "attendance", _("Event attendance (RSVP)")
        DONATION = "donation", _("Donation")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribe")
        BOUNCE = "bounce", _("Email bounce")

    name = models.CharField(_("name"), max_length=100, blank=True)
    url = models.URLField(_("address"), max_length=500)
    event_type = models.CharField(_("event"), max_length=20, choices=EventType)
    secret = models.CharField(_("signing secret"), max_length=64)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    modified_at = models.DateTimeField(_("modified"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        indexes = [models.Index(fields=["event_type", "is_active"], name="webhook_type_idx")]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} → {self.url}"


class WebhookDelivery(models.Model):
    """One event for one webhook: claimed by a worker before each POST, retried with
    exponential backoff until it succeeds or runs out of attempts.

    ``event_key`` is unique per webhook, so the same signature (or RSVP, donation…)
    is never queued twice for one address even if its timeline entry is seen twice.
    ``body`` is built on the first attempt and reused byte for byte by every retry,
    so the receiver sees one idempotency key and one signature per delivery.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        RETRYING = "retrying", _("Will retry")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Gave up")
        SKIPPED = "skipped", _("Nothing to send")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=20, choices=Webhook.EventType)
    event_key = models.CharField(max_length=100)
    object_id = models.BigIntegerField()
    person_id = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_key"], name="webhook_delivery_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_key} → webhook {self.webhook_id}: {self.status}"


class ApiState(models.Model):
    """Short-lived numbers the API keeps between requests when the cache is the
    database: per-key rate-limit counters, paging boundaries and cached counts.

    Django's database cache spends a transaction, a culling ``COUNT(*)`` and a read
    before each write; this table is read with one ``SELECT`` and written with one
    upsert per request (``api/state.py``). ``expires`` is Unix seconds; expired rows
    read as missing and are deleted by the ``api.state_cleanup`` job. With Redis as the
    cache none of this is used.
    """

    key = models.CharField(max_length=120, primary_key=True)
    value = models.BigIntegerField()
    expires = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return self.key
