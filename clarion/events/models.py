"""Events, RSVPs, check-in, canvass results and the sent-markers that make reminders
go out once per person."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    """A real-world (or online) event. Times are stored in UTC and shown in the
    organisation's time zone. ``latitude``/``longitude`` come from ``postcode`` through
    the postcode table (``services.event_save``)."""

    class Kind(models.TextChoices):
        CANVASS = "canvass", _("Canvass")
        PHONE_BANK = "phone_bank", _("Phone bank")
        MEETING = "meeting", _("Meeting")
        SOCIAL = "social", _("Social")
        FUNDRAISER = "fundraiser", _("Fundraiser")
        RALLY = "rally", _("Rally")
        ONLINE = "online", _("Online")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PROPOSED = "proposed", _("Waiting for approval")
        PUBLISHED = "published", _("Published")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", _("Cancelled")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public (listed in the event finder)")
        UNLISTED = "unlisted", _("Unlisted (only people with the link)")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.MEETING)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, help_text=_("Markdown."))
    description_html = models.TextField(blank=True, editable=False)
    area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("area"),
    )
    host_person = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hosted_events",
        verbose_name=_("host (member)"),
    )
    host_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("host (staff)"),
    )
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    postcode = models.CharField(_("postcode"), max_length=8, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    online_url = models.URLField(
        _("online link"), blank=True, help_text=_("Shown only to people who RSVP.")
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        help_text=_("Places including guests; empty for no limit."),
    )
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility, default=Visibility.PUBLIC
    )
    status = models.CharField(_("status"), max_length=12, choices=Status, default=Status.PUBLISHED)
    reminder_hours = models.CharField(
        _("reminders (hours before)"),
        max_length=50,
        default="24,2",
        help_text=_("Comma-separated hours before the start, e.g. 24,2. Empty for none."),
    )
    follow_up = models.TextField(
        _("follow-up message"),
        blank=True,
        help_text=_("Sent after the event to people who came (thank you + next step)."),
    )
    decline_message = models.TextField(blank=True)
    proposed_by = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["status", "starts_at"], name="events_status_start"),
            # Find-an-event: a latitude range with longitude and start time checked in
            # the index, over listed published events only.
            models.Index(
                fields=["latitude", "longitude", "starts_at"],
                name="events_public_geo",
                condition=models.Q(status="published", visibility="public"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")),
                name="events_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def reminder_hour_list(self) -> list[int]:
        hours = []
        for part in (self.reminder_hours or "").split(","):
            part = part.strip()
            if part.isdigit() and 0 < int(part) <= 24 * 14:
                hours.append(int(part))
        return sorted(set(hours), reverse=True)


class AreaEventPolicy(models.Model):
    """Whether events members propose in an area need an organiser's approval. An area
    without a row inherits from the nearest ancestor that has one; the default is yes."""

    area = models.OneToOneField("areas.Area", on_delete=models.CASCADE, related_name="event_policy")
    approval_required = models.BooleanField(_("member events need approval"), default=True)

    def __str__(self) -> str:
        return f"{self.area_id}: {self.approval_required}"


class Rsvp(models.Model):
    class Status(models.TextChoices):
        GOING = "going", _("Going")
        WAITLISTED = "waitlisted", _("On the waiting list")
        CANCELLED = "cancelled", _("Cancelled")

    class Attendance(models.TextChoices):
        UNKNOWN = "unknown", _("Not checked in")
        ATTENDED = "attended", _("Attended")
        NO_SHOW = "no_show", _("No-show")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    # The person details the RSVP form gave, as typed (see actions.Submission.submitted).
    submitted = models.JSONField(default=dict, blank=True)
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="event_rsvps"
    )
    status = models.CharField(max_length=12, choices=Status, default=Status.GOING)
    guests = models.PositiveSmallIntegerField(default=0)
    attendance = models.CharField(max_length=10, choices=Attendance, default=Attendance.UNKNOWN)
    walk_in = models.BooleanField(default=False)
    source = models.CharField(max_length=100, blank=True)
    referrer = models.CharField(max_length=500, blank=True)
    recruiter = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "person"], name="events_one_rsvp_per_person"),
        ]
        indexes = [
            models.Index(fields=["event", "status", "created_at"], name="events_rsvp_queue"),
            # Segments: "attended" and "no-show" read person ids from the index alone.
            models.Index(fields=["attendance", "person"], name="events_rsvp_attendance"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} → {self.event_id}"

    @property
    def places(self) -> int:
        return 1 + self.guests


class EventEmail(models.Model):
    """One row per email an event sends a person: the unique constraint is what makes
    a confirmation, promotion notice, reminder or follow-up go out at most once, even
    when two workers run the same task."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "person", "kind"], name="events_email_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id} → {self.person_id}"


class CanvassResult(models.Model):
    class Outcome(models.TextChoices):
        NOT_HOME = "not_home", _("Not home")
        SPOKE = "spoke", _("Spoke")
        REFUSED = "refused", _("Refused")
        MOVED = "moved", _("Moved")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="canvass_results")
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="canvass_results"
    )
    outcome = models.CharField(max_length=10, choices=Outcome)
    support_level = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(support_level__isnull=True)
                | models.Q(support_level__gte=1, support_level__lte=5),
                name="events_support_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.person_id} {self.outcome}"


class Shift(models.Model):
    """A volunteer time slot within an event, with its own capacity. People pick one
    or several when they RSVP; ``ShiftSignup`` rows hold their places."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="shifts")
    label = models.CharField(_("label"), max_length=100, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Empty for no limit.")
    )

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")),
                name="events_shift_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.starts_at:%H:%M}"


class ShiftSignup(models.Model):
    """One RSVP's place on one shift. The unique constraint (one RSVP per person and
    event, one signup per RSVP and shift) is what stops a person signing up twice for
    the same shift."""

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="signups")
    rsvp = models.ForeignKey(Rsvp, on_delete=models.CASCADE, related_name="shift_signups")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shift__starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["shift", "rsvp"], name="events_one_signup_per_shift"),
        ]

    def __str__(self) -> str:
        return f"{self.rsvp_id} → shift {self.shift_id}"


class Question(models.Model):
    """A question the host asks everyone who RSVPs. With ``choices`` (one per line) the
    answer must be one of them."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(_("question"), max_length=300)
    required = models.BooleanField(_("required"), default=False)
    choices = models.TextField(
        _("choices"), blank=True, help_text=_("One per line; empty for a free answer.")
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text

    def choice_list(self) -> list[str]:
        return [c.strip() for c in self.choices.splitlines() if c.strip()]


class Answer(models.Model):
    rsvp = models.ForeignKey(Rsvp, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    value = models.TextField()

    class Meta:
        ordering = ["question__position", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["rsvp", "question"], name="events_one_answer"),
        ]

    def __str__(self) -> str:
        return f"{self.rsvp_id}: {self.question_id}"


class HostMessage(models.Model):
    """A message the host (or staff) sent to an event's attendees. Each recipient's
    copy is claimed by an ``EventEmail`` row (kind ``message_<pk>``), so it goes out at
    most once. A message from the member host (``from_host``, through the host link)
    goes to every attendee; one from staff (``sent_by``) only to the attendees in that
    user's scope, and to nobody once that user is gone."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="host_messages")
    subject = models.CharField(_("subject"), max_length=150)
    body = models.TextField(_("message"))
    include_waitlisted = models.BooleanField(_("also send to the waiting list"), default=False)
    from_host = models.BooleanField(default=False)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.subject
