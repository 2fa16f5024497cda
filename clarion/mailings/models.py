"""Mailings: what staff compose, the per-recipient ledger the senders work from, and
the tracking events that reports aggregate.

The ledger (``Recipient``) is the heart of at-most-once delivery. A row moves

    queued -> claimed -> in_flight -> sent | failed | queued (4xx, retried later)
                                   \\-> uncertain (worker died or the connection
                                                  dropped after the message data)
    queued -> suppressed (unsubscribed, suppressed hash, opted out, frequency cap)
    held   -> queued | cancelled   (A/B remainder, waiting for the winner)

``claimed`` rows were never handed to an SMTP server, so a dead worker's claimed rows
go back to ``queued``; ``in_flight`` rows may have been delivered, so a dead worker's
in-flight rows become ``uncertain`` and are never re-sent automatically.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Mailing(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        TESTING = "testing", _("A/B test running")
        PAUSED = "paused", _("Paused")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    class BodyFormat(models.TextChoices):
        MARKDOWN = "markdown", _("Markdown")
        HTML = "html", _("HTML")

    class Metric(models.TextChoices):
        OPENS = "opens", _("Unique opens")
        CLICKS = "clicks", _("Unique clicks")
        ACTIONS = "actions", _("Actions taken")
        MONEY = "money", _("Money raised")

    class Category(models.TextChoices):
        """The keys of the categories every installation starts with (migration 0005);
        staff add others as ``EmailCategory`` rows."""

        NEWS = "news", _("News and campaign updates")
        FUNDRAISING = "fundraising", _("Fundraising appeals")
        EVENTS = "events", _("Events near me")

    name = models.CharField(_("internal name"), max_length=150)
    category = models.CharField(
        _("category"),
        max_length=20,
        blank=True,
        default="",
        help_text=_(
            "People may stop one category and keep the rest. None: general mail, "
            "stopped only by unsubscribing from everything."
        ),
    )
    subject = models.CharField(_("subject"), max_length=250)
    preheader = models.CharField(_("preheader"), max_length=250, blank=True)
    from_name = models.CharField(_("from name"), max_length=100)
    from_email = models.EmailField(_("from address"))
    reply_to = models.EmailField(_("reply-to"), blank=True)
    body_format = models.CharField(
        _("body format"), max_length=10, choices=BodyFormat, default=BodyFormat.MARKDOWN
    )
    body = models.TextField(_("body"))

    segment = models.ForeignKey(
        "people.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    exclude_segment = models.ForeignKey(
        "people.Segment",
        verbose_name=_("exclude segment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    person_list = models.ForeignKey(
        "people.PersonList",
        verbose_name=_("list"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    frequency_cap_hours = models.PositiveIntegerField(
        _("skip anyone mailed in the last N hours"), default=0
    )
    rate_per_second = models.PositiveIntegerField(
        _("throttle (messages per second, 0 = no limit)"), default=0
    )

    ab_variants = models.PositiveSmallIntegerField(_("variants"), default=1)
    ab_test_percent = models.PositiveSmallIntegerField(_("test sample per variant (%)"), default=0)
    ab_wait_minutes = models.PositiveIntegerField(
        _("wait before picking the winner (minutes)"), default=60
    )
    ab_metric = models.CharField(
        _("pick the winner by"), max_length=10, choices=Metric, default=Metric.OPENS
    )
    ab_auto = models.BooleanField(_("pick the winner automatically"), default=True)
    ab_decide_at = models.DateTimeField(null=True, blank=True)
    winner_variant = models.PositiveSmallIntegerField(null=True, blank=True)

    area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The scope of the organiser who made it; None for national mailings."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ab_variants__gte=1, ab_variants__lte=4), name="mailing_variants_1_4"
            ),
            models.CheckConstraint(
                condition=Q(ab_test_percent__lte=50), name="mailing_test_percent_le_50"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)

    def get_category_display(self) -> str:
        return category_label(self.category)

    @property
    def is_ab(self) -> bool:
        return self.ab_variants > 1


class Variant(models.Model):
    """An A/B variant. Index 0 is the mailing itself; blank fields inherit from it."""

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="variants")
    index = models.PositiveSmallIntegerField()
    subject = models.CharField(_("subject"), max_length=250, blank=True)
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    body = models.TextField(_("body"), blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["mailing", "index"], name="variant_unique_index")
        ]

    def __str__(self) -> str:
        return "ABCD"[self.index] if self.index < 4 else str(self.index)


class Recipient(models.Model):
    """One person's row in a mailing's ledger (unique per mailing and person)."""

    class Status(models.TextChoices):
        HELD = "held", _("Waiting for the A/B winner")
        QUEUED = "queued", _("Queued")
        CLAIMED = "claimed", _("Claimed by a sender")
        IN_FLIGHT = "in_flight", _("In flight")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Suppressed")
        UNCERTAIN = "uncertain", _("Uncertain")
        CANCELLED = "cancelled", _("Cancelled")

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="recipients")
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.CharField(max_length=254)
    email_hash = models.CharField(max_length=64)
    variant = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    bounced = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailing", "person"], name="recipient_once_per_mailing")
        ]
        indexes = [
            models.Index(fields=["mailing", "status", "id"], name="recipient_claim_idx"),
            models.Index(fields=["person", "sent_at"], name="recipient_person_idx"),
            # Segments: a tracking event's person without reading the table.
            models.Index(fields=["id", "person"], name="recipient_id_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.mailing_id}:{self.person_id}:{self.status}"


class SendSlot(models.Model):
    """One of a mailing's parallel senders. A deliver task owns a slot while its
    heartbeat is fresh; a watcher re-enqueues a slot whose heartbeat went stale (its
    worker died)."""

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveSmallIntegerField()
    owner = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailing", "number"], name="sendslot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.mailing_id}:{self.number}"


class Throttle(models.Model):
    """A shared token bucket per second (``global`` or ``mailing:<id>``), so the limit
    holds across every worker process and machine."""

    name = models.CharField(max_length=50, unique=True)
    window = models.BigIntegerField(default=0)
    used = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Link(models.Model):
    """A tracked link of a mailing (its index is the ``l`` of click URLs)."""

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="links")
    index = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=2000)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["mailing", "index"], name="link_unique_index")
        ]

    def __str__(self) -> str:
        return self.url


class Event(models.Model):
    """A tracking or feedback event: rows are only inserted; reports aggregate them."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        CLICK = "click", _("Click")
        BOUNCE = "bounce", _("Bounce")
        COMPLAINT = "complaint", _("Complaint")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribe")

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="events")
    recipient = models.ForeignKey(
        Recipient, null=True, on_delete=models.CASCADE, related_name="events"
    )
    # The recipient's person, copied when the event is recorded (``services._event``)
    # and kept equal to it by erasure and merging (``privacy``): segments and the
    # funnel read who opened from one index instead of one ledger probe per event.
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    variant = models.PositiveSmallIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=12, choices=Kind)
    machine = models.BooleanField(default=False)
    link_index = models.PositiveSmallIntegerField(null=True, blank=True)
    hard = models.BooleanField(default=False)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["mailing", "kind", "variant"], name="event_report_idx"),
            # Segments: who opened or clicked (as a human) in a time window, read from
            # the index alone ("opened in the last 14 days").
            models.Index(
                fields=["created_at", "person"],
                condition=Q(machine=False, kind__in=["open", "click"], person__isnull=False),
                name="event_human_person_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailing_id}:{self.kind}"


class FromAddress(models.Model):
    """An address an admin allows mailings to be sent from. One set for an area holds
    for mailings of that area and every area below it; ``area`` None is for national
    mailings only. National staff may also type any address; organisers pick from
    the addresses allowed for their area (checked in ``services.mailing_save``)."""

    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    email = models.EmailField(_("address"))
    name = models.CharField(_("usual from name"), max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["area", "email"], name="fromaddress_unique_area_email"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class EmailCategory(models.Model):
    """A kind of bulk email that people may stop on its own (news, fundraising, local
    organising...), defined by staff. Mailings, templates and opt-outs refer to it by
    ``key``, which does not change once made; a mailing with no category is general
    mail, which only unsubscribing from everything stops."""

    key = models.SlugField(
        _("key"),
        max_length=20,
        unique=True,
        help_text=_("Short, lower case, never changed: e.g. local-organising."),
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("what people get"), max_length=250, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "name", "pk"]
        verbose_name = _("email category")
        verbose_name_plural = _("email categories")

    def __str__(self) -> str:
        return self.name


def category_label(key: str) -> str:
    """The name staff and people see for a category key ("General" for none)."""
    if not key:
        return str(_("General"))
    name = EmailCategory.objects.filter(key=key).values_list("name", flat=True).first()
    return name or key


class OptOut(models.Model):
    """A person's choice not to receive one category of mail, with the words they were
    shown and where they chose it (the preference pages, the unsubscribe page). Opting
    back in deletes the row; both are on the person's timeline."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=20)
    wording = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "category"], name="optout_unique")]

    def __str__(self) -> str:
        return f"{self.person_id}:{self.category}"


class MailingTemplate(models.Model):
    """Content kept to start new mailings from: subject, preheader and body (with their
    merge fields and segment blocks), never an audience. ``area`` is the scope of the
    organiser who saved it (None: national, offered to everyone); an organiser sees the
    national templates and their own area's."""

    name = models.CharField(_("template name"), max_length=150)
    category = models.CharField(_("category"), max_length=20, blank=True, default="")
    subject = models.CharField(_("subject"), max_length=250)
    preheader = models.CharField(_("preheader"), max_length=250, blank=True)
    body_format = models.CharField(
        _("body format"),
        max_length=10,
        choices=Mailing.BodyFormat,
        default=Mailing.BodyFormat.MARKDOWN,
    )
    body = models.TextField(_("body"))
    area = models.ForeignKey(
        "areas.Area", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("mailing template")

    def __str__(self) -> str:
        return self.name
