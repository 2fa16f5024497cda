from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clarion.core.storage import import_upload_to, private_storage, rejects_upload_to


class EmailStatus(models.TextChoices):
    NONE = "none", _("Not subscribed")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    BOUNCING = "bouncing", _("Bouncing")
    COMPLAINED = "complained", _("Spam complaint")


class MembershipStatus(models.TextChoices):
    NONE = "none", _("Not a member")
    ACTIVE = "active", _("Active")
    LAPSED = "lapsed", _("Lapsed")
    CANCELLED = "cancelled", _("Cancelled")


class Person(models.Model):
    """A supporter. Created and changed only through ``people.services``.

    ``email`` is the primary address, stored normalised (trimmed, lower case) and
    unique; ``phone`` is the primary number in E.164. Other addresses and numbers live
    in PersonEmail / PersonPhone. ``area``, ``latitude`` and ``longitude`` are derived
    from ``postcode`` by the postcode table.
    """

    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.CharField(_("email"), max_length=254, unique=True, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)

    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    town = models.CharField(_("town"), max_length=100, blank=True)
    postcode = models.CharField(_("postcode"), max_length=8, blank=True, db_index=True)
    country = models.CharField(_("country"), max_length=2, default="GB")
    area = models.ForeignKey(
        "areas.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    email_status = models.CharField(
        _("email status"), max_length=20, choices=EmailStatus, default=EmailStatus.NONE
    )
    email_status_reason = models.CharField(max_length=200, blank=True)
    email_status_changed_at = models.DateTimeField(null=True, blank=True)

    membership_number = models.CharField(max_length=40, unique=True, null=True, blank=True)
    membership_status = models.CharField(
        _("membership"), max_length=20, choices=MembershipStatus, default=MembershipStatus.NONE
    )
    joined_on = models.DateField(_("joined"), null=True, blank=True)
    renews_on = models.DateField(_("renews"), null=True, blank=True)

    recruiter = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recruits"
    )
    source_code = models.CharField(_("source"), max_length=100, blank=True)
    share_code = models.CharField(max_length=16, unique=True, null=True, blank=True)

    tags = models.ManyToManyField("Tag", through="Tagging", related_name="people")
    lists = models.ManyToManyField("PersonList", through="ListMembership", related_name="people")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [
            models.Index(Lower("last_name"), Lower("first_name"), name="person_name_idx"),
            models.Index(fields=["area", "email_status"], name="person_area_status_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"#{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class PersonEmail(models.Model):
    """An address a person also uses (merged duplicates, work addresses)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="other_emails")
    email = models.CharField(max_length=254, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.email


class PersonPhone(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="other_phones")
    number = models.CharField(max_length=20, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "number"], name="person_phone_unique")
        ]

    def __str__(self) -> str:
        return self.number


class PersonIdentifier(models.Model):
    """An id a person has in another system (``actionnetwork:…``, a CRM's member id)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identifiers")
    system = models.CharField(max_length=50)
    value = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "value"], name="identifier_unique")
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.value}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique")]

    def __str__(self) -> str:
        return self.name


class Tagging(models.Model):
    # No single-column indexes: tagging_person_idx and tagging_unique lead with each.
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="taggings", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="taggings", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tag", "person"], name="tagging_unique")]
        indexes = [models.Index(fields=["person", "tag"], name="tagging_person_idx")]

    def __str__(self) -> str:
        return f"{self.person_id} tagged {self.tag_id}"


class PersonList(models.Model):
    """A named, hand-kept list of people (segments are the computed kind)."""

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="list_name_unique")]

    def __str__(self) -> str:
        return self.name


class ListMembership(models.Model):
    # No single-column indexes: listmember_person_idx and list_membership_unique lead with each.
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="list_memberships", db_index=False
    )
    list = models.ForeignKey(
        PersonList, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["list", "person"], name="list_membership_unique")
        ]
        indexes = [models.Index(fields=["person", "list"], name="listmember_person_idx")]

    def __str__(self) -> str:
        return f"{self.person_id} on list {self.list_id}"


class CustomField(models.Model):
    """A typed field that people carry in ``Person.custom_fields[key]``."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes / no")

    key = models.SlugField(_("key"), max_length=60, unique=True)
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind, default=Kind.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class ConsentRecord(models.Model):
    """What a person agreed to, in the exact words they were shown."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("Text message")
        PHONE = "phone", _("Phone")
        POST = "post", _("Post")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=Channel)
    granted = models.BooleanField(default=True)
    wording = models.TextField()
    source = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel} {'granted' if self.granted else 'withdrawn'} ({self.created_at:%Y-%m-%d})"


class Activity(models.Model):
    """One entry of a person's timeline. Append-only: rows are added, never edited.

    Other apps add entries through ``people.services.activity_record``.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Joined the database")
        UPDATED = "updated", _("Details changed")
        EMAIL_STATUS = "email_status", _("Email status changed")
        TAGGED = "tagged", _("Tagged")
        UNTAGGED = "untagged", _("Tag removed")
        LISTED = "listed", _("Added to list")
        UNLISTED = "unlisted", _("Removed from list")
        CONSENT = "consent", _("Consent recorded")
        MEMBERSHIP = "membership", _("Membership changed")
        NOTE = "note", _("Staff note")
        MERGED = "merged", _("Merged")
        IMPORTED = "imported", _("Imported")
        ACTION = "action", _("Took action")
        EMAIL = "email", _("Email event")
        DONATION = "donation", _("Donation")
        EVENT = "event", _("Event")
        QUESTION = "question", _("Q&A")
        PROPOSED = "proposed", _("Change of details proposed")
        OTHER = "other", _("Other")

    # Indexed by activity_person_idx (person, -created_at) alone.
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["person", "-created_at"], name="activity_person_idx")]

    def __str__(self) -> str:
        return self.summary


class Suppression(models.Model):
    """An address that must never be mailed in bulk, kept as a SHA-256 of the email.

    Erasure leaves only this row behind, so an erased person is never mailed again.
    """

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"


class Segment(models.Model):
    """A saved, named condition tree over people (see ``people.segments``)."""

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(default=dict)
    owner_area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The scope of the organiser who made it; None for national segments."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_count = models.PositiveIntegerField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """A CSV import: its file, column mapping, progress and result."""

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=import_upload_to, storage=private_storage, max_length=200)
    original_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status, default=Status.MAPPING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    rejects = models.FileField(
        upload_to=rejects_upload_to, storage=private_storage, max_length=200, blank=True
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name


class ProposedChange(models.Model):
    """What a public, unauthenticated form said about an existing person that differs
    from what is stored: evidence, never an edit.

    ``changes`` maps a field (``first_name``, ``postcode``, ``phone``, ``email_status``,
    ``custom:<key>`` …) to ``{"old": stored, "new": typed}``. Nothing is applied until the
    mailbox owner follows the emailed link (a signed, expiring token naming this row;
    single use because only a pending row can be confirmed) or staff who can reach the person accept it; either way the
    change is audited and on the timeline. ``email_status`` (a resubscription) applies
    only through the mailbox link, which is the double-opt-in click.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed by the person")
        ACCEPTED = "accepted", _("Accepted by staff")
        DISMISSED = "dismissed", _("Dismissed")
        SUPERSEDED = "superseded", _("Replaced by a later proposal")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="proposed_changes")
    changes = models.JSONField(default=dict)
    source = models.CharField(max_length=100, blank=True)
    consent_wording = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["person", "status"], name="proposed_person_status_idx")]

    def __str__(self) -> str:
        return f"{self.person_id}: {', '.join(self.changes)} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING and self.expires_at > timezone.now()
