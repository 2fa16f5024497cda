"""Action pages and the submissions people make on them.

A page's count is the number of its counted submissions (``status=confirmed``),
read with an index and cached for a few seconds (``selectors.page_count``): a
signature never updates a shared counter row, so a spike of signatures never queues
on one lock.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ActionPage(models.Model):
    class Kind(models.TextChoices):
        PETITION = "petition", _("Petition")
        PLEDGE = "pledge", _("Pledge")
        SIGNUP = "signup", _("Sign-up form")
        LETTER = "letter", _("Letter to a target")
        SURVEY = "survey", _("Survey")
        DONATION = "donation", _("Donation page")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        CLOSED = "closed", _("Closed")

    class NextStep(models.TextChoices):
        SHARE = "share", _("Share with friends")
        DONATE = "donate", _("Donate (the page below)")
        EVENT = "event", _("RSVP to the nearest event")
        MEMBER = "member", _("Join as a member (the link below)")
        PAGE = "page", _("Another action page (below)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind, default=Kind.PETITION)
    slug = models.SlugField(_("web address"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(
        _("summary"),
        max_length=300,
        blank=True,
        help_text=_("One or two sentences shown on shares and at the top of the page."),
    )
    body = models.TextField(_("body (Markdown)"), blank=True)
    body_html = models.TextField(blank=True, editable=False)
    hero_image = models.ImageField(_("hero image"), upload_to="actions/hero/%Y/%m/", blank=True)
    hero_alt = models.CharField(_("hero image description"), max_length=200, blank=True)
    video_url = models.URLField(
        _("video"), blank=True, help_text=_("A YouTube or Vimeo address; it is embedded privately.")
    )
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="action_pages",
        help_text=_("Leave empty for a national page."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.DRAFT)
    starts_at = models.DateTimeField(_("opens"), null=True, blank=True)
    ends_at = models.DateTimeField(_("closes"), null=True, blank=True)
    goal = models.PositiveIntegerField(_("goal"), null=True, blank=True)

    pledge_text = models.CharField(
        _("pledge wording"), max_length=300, blank=True, help_text=_('Completes "I pledge to ..."')
    )
    ask_comment = models.BooleanField(_("ask for a comment"), default=False)
    ask_postcode = models.BooleanField(_("ask for a postcode"), default=True)
    questions = models.JSONField(_("questions"), default=list, blank=True)

    target_name = models.CharField(_("target name"), max_length=200, blank=True)
    target_role = models.CharField(_("target role"), max_length=200, blank=True)
    target_email = models.EmailField(_("target email"), blank=True)
    letter_subject = models.CharField(_("letter subject"), max_length=200, blank=True)
    letter_body = models.TextField(_("letter template"), blank=True)

    suggested_amounts = models.JSONField(_("suggested amounts (pence)"), default=list, blank=True)
    allow_monthly = models.BooleanField(_("allow monthly gifts"), default=True)
    currency = models.CharField(_("currency"), max_length=3, default="GBP")

    consent_wording = models.CharField(
        _("email consent wording"),
        max_length=500,
        default=_(
            "Keep me updated by email about this campaign and others. I can unsubscribe at any time."
        ),
    )
    button_label = models.CharField(_("button label"), max_length=60, blank=True)
    thanks_message = models.TextField(_("thank-you message"), blank=True)
    share_text = models.CharField(_("share text"), max_length=280, blank=True)
    next_step = models.CharField(
        _("next step"), max_length=10, choices=NextStep, default=NextStep.SHARE
    )
    next_page = models.ForeignKey(
        "self",
        verbose_name=_("next step page"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    next_url = models.URLField(_("next step link"), blank=True)
    tags = models.CharField(
        _("tags to add"), max_length=300, blank=True, help_text=_("Comma-separated tag names.")
    )
    list_name = models.CharField(_("list to add people to"), max_length=100, blank=True)
    double_opt_in = models.BooleanField(
        _("double opt-in"),
        default=False,
        help_text=_("Ask people to confirm by email; unconfirmed actions are not counted."),
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("action page")
        verbose_name_plural = _("action pages")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(starts_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="action_page_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def counts_people(self) -> bool:
        return self.kind != self.Kind.DONATION

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        if self.status != self.Status.LIVE:
            return False
        if self.starts_at and now < self.starts_at:
            return False
        return not (self.ends_at and now >= self.ends_at)

    def tag_names(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]


class Submission(models.Model):
    """One person's action on one page (a signature, pledge, form, letter, survey).

    ``email_canonical`` (see ``people.normalise.canonical_email``) is unique per page,
    so the same mailbox acts once. Only ``confirmed`` rows count.

    A public form writes the row first, as its intake (``services.submission_intake``):
    ``person`` is empty and ``intake`` holds what the form said until a worker
    processes it (``services.submissions_process``), which finds or creates the person,
    records the timeline entry and queues the emails, then sets ``processed_at`` and
    empties ``intake`` in the same transaction. An intake row counts (and blocks a
    second signature from the same mailbox) from the moment it commits.
    """

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Counted")
        PENDING = "pending", _("Waiting for email confirmation")
        INVALID = "invalid", _("Invalidated")

    page = models.ForeignKey(ActionPage, on_delete=models.CASCADE, related_name="submissions")
    # What the form said about the person (name, postcode), as typed: a public form
    # never rewrites a stored person, so this is where the submitter's words are kept.
    submitted = models.JSONField(default=dict, blank=True)
    # Empty only while the row waits in intake (``processed_at`` is empty).
    person = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="action_submissions",
    )
    email_canonical = models.CharField(max_length=254)
    email_domain = models.CharField(max_length=254, db_index=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.CONFIRMED)
    answers = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    show_name = models.BooleanField(default=False)
    consent_given = models.BooleanField(default=False)
    consent_wording = models.CharField(max_length=500, blank=True)

    source = models.CharField(max_length=100, blank=True)
    referrer = models.CharField(max_length=500, blank=True)
    referrer_domain = models.CharField(max_length=200, blank=True)
    utm = models.JSONField(default=dict, blank=True)
    mailing_token = models.CharField(max_length=200, blank=True)
    recruiter = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_recruits",
    )
    embedded = models.BooleanField(default=False)
    ip_hash = models.CharField(max_length=32, blank=True, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)

    # Intake: the form's words for the person (email as typed, names, postcode, custom
    # fields, share code of the recruiter) until processed, then emptied.
    intake = models.JSONField(default=dict, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Whether processing created the person (only then may the thank-you page show
    # them their share link: a public form proves nothing about who typed an email).
    person_created = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    letter_sent_at = models.DateTimeField(null=True, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalid_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "email_canonical"], name="submission_once_per_page"
            )
        ]
        indexes = [
            # Counting and the recent-signers list read only this index.
            models.Index(fields=["page", "status", "created_at"], name="submission_count_idx"),
            models.Index(fields=["recruiter", "status"], name="submission_recruiter_idx"),
            models.Index(fields=["person", "created_at"], name="submission_person_idx"),
            # The workers' claim reads only the rows still in intake, oldest first.
            models.Index(
                fields=["id"],
                condition=models.Q(processed_at__isnull=True),
                name="submission_intake_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.page_id}:{self.person_id}"

    @property
    def counted(self) -> bool:
        return self.status == self.Status.CONFIRMED

    @property
    def in_intake(self) -> bool:
        return self.processed_at is None
