"""Live Q&A: sessions, questions, near-duplicate groups, votes, bans, decisions.

Questions are pre-moderated: the public sees a question only once its status is
``approved`` (see ``selectors.public_questions``, the single read the public pages,
the live feed and the published page use).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Session(models.Model):
    class Audience(models.TextChoices):
        ANYONE = "anyone", _("Anyone who gives an email address")
        CONFIRMED = "confirmed", _("Only supporters who confirmed their email")
        MEMBERS = "members", _("Only members (email confirmed)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        PUBLISHED = "published", _("Published")

    slug = models.SlugField(_("web address"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200)
    host = models.CharField(
        _("host"), max_length=150, help_text=_("Who answers, e.g. the party leader.")
    )
    description = models.TextField(_("description"), blank=True)
    video_url = models.URLField(
        _("live stream embed address"),
        blank=True,
        help_text=_("Optional: the https address of the stream's embed."),
    )
    opens_at = models.DateTimeField(_("questions open"), null=True, blank=True)
    live_at = models.DateTimeField(_("goes live"), null=True, blank=True)
    closes_at = models.DateTimeField(_("questions close"), null=True, blank=True)
    audience = models.CharField(
        _("who may ask"), max_length=12, choices=Audience, default=Audience.ANYONE
    )
    max_length = models.PositiveIntegerField(_("longest question (characters)"), default=280)
    max_per_person = models.PositiveIntegerField(_("questions per person"), default=3)
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For a local session; organisers of this area may run it."),
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="qa_moderated",
        verbose_name=_("moderators"),
    )
    join_url = models.URLField(_("join link"), blank=True)
    donate_url = models.URLField(_("donate link"), blank=True)
    event_url = models.URLField(_("event link"), blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    answering_now = models.ForeignKey(
        "Question", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Bumped when questions change group after the fact (a wave absorbing its early
    # splinters), so each process rebuilds its topic index (grouping.py).
    regroup_epoch = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_length__gte=20), name="qa_session_max_length_min"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def accepting_questions(self, now=None) -> bool:
        now = now or timezone.now()
        if self.status != self.Status.OPEN:
            return False
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)


class BannedPhrase(models.Model):
    """A word or phrase that holds a question for a moderator (matched on whole words).

    ``area`` empty: the national list, which only admins edit. Otherwise the list of
    that area, edited by its organisers (and those of the areas above it). A session
    uses the national list and the lists of its area and every area above it.
    """

    phrase = models.CharField(_("word or phrase"), max_length=100)
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["phrase"]
        constraints = [
            models.UniqueConstraint(fields=["area", "phrase"], name="qa_phrase_once_per_area"),
            models.UniqueConstraint(
                fields=["phrase"],
                condition=models.Q(area__isnull=True),
                name="qa_phrase_once_nationally",
            ),
        ]

    def __str__(self) -> str:
        return self.phrase


class QuestionGroup(models.Model):
    """Questions that say the same thing (near duplicates), shown as one card.

    ``wave`` marks a group found to be a coordinated burst (brigading): its questions
    are held together and handled with group actions.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="groups")
    shingles = models.JSONField(default=list)
    size = models.PositiveIntegerField(default=1)
    wave = models.BooleanField(default=False)
    wave_flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["session", "-created_at"], name="qa_group_session_idx")]

    def __str__(self) -> str:
        return f"group {self.pk} ({self.size})"


def public_name(display_name: str) -> str:
    """First name and last initial of ``display_name`` (what the public sees of an asker)."""
    parts = display_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


class Question(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a moderator")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        MERGED = "merged", _("Merged into another question")

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="questions")
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="qa_questions"
    )
    display_name = models.CharField(max_length=100)
    text = models.TextField()
    original_text = models.TextField(
        blank=True, help_text=_("What the asker wrote, kept when a moderator edits.")
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    reasons = models.JSONField(default=list, blank=True)
    group = models.ForeignKey(
        QuestionGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    also_asked = models.PositiveIntegerField(default=0)
    starred = models.BooleanField(default=False)
    votes_count = models.PositiveIntegerField(default=0)
    reject_reason = models.CharField(max_length=200, blank=True)
    answer_text = models.TextField(blank=True)
    answer_seconds = models.PositiveIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    # The hash of the sender's network (/24 for IPv4, /48 for IPv6): extra evidence
    # of a wave, shown to moderators as a count only.
    net_hash = models.CharField(max_length=64, blank=True)
    # What the question is about (``screening.content_terms``), for topic grouping.
    terms = models.JSONField(default=list, blank=True)
    person_was_new = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["session", "status", "-votes_count"], name="qa_question_public_idx"
            ),
            models.Index(fields=["session", "person"], name="qa_question_person_idx"),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def public_name(self) -> str:
        """First name and last initial: enough to be a real person, not a doxx."""
        return public_name(self.display_name)

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def answer_at_display(self) -> str:
        """The answer's time in the video as h:mm:ss or m:ss ('' when none)."""
        if self.answer_seconds is None:
            return ""
        h, rest = divmod(self.answer_seconds, 3600)
        m, s = divmod(rest, 60)
        return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Vote(models.Model):
    """One upvote. ``person`` is a supporter who confirmed their email (see voting.py)."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="qa_votes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "person"], name="qa_vote_once")]

    def __str__(self) -> str:
        return f"vote {self.question_id}/{self.person_id}"


class Ban(models.Model):
    """Stops a person asking: matched by person, by the hash of their canonical email
    and by the hash of their IP address, never by the name they type."""

    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    ip_hash = models.CharField(max_length=64, blank=True, db_index=True)
    session = models.ForeignKey(
        Session,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bans",
        help_text=_("Empty: banned from every session."),
    )
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"ban {self.pk}"


class ModerationDecision(models.Model):
    """The audit trail of moderation: every decision a moderator takes. Append-only."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("Approved")
        REJECT = "reject", _("Rejected")
        STAR = "star", _("Starred")
        UNSTAR = "unstar", _("Unstarred")
        MERGE = "merge", _("Merged")
        EDIT = "edit", _("Edited")
        BAN = "ban", _("Banned")
        ANSWERING = "answering", _("Answering now")
        ANSWER = "answer", _("Answered")
        GROUP_APPROVE = "group_approve", _("Approved group")
        GROUP_REJECT = "group_reject", _("Rejected group")
        GROUP_BAN = "group_ban", _("Banned group")
        SESSION = "session", _("Session status")

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="decisions")
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    group = models.ForeignKey(
        QuestionGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action)
    reason = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.question_id or self.group_id or ''}"
