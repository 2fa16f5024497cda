from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("Staff users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("role", User.Role.ADMIN)
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A staff account. Supporters do not log in; they are ``people.Person`` rows.

    What a user may reach is decided by ``role`` and ``area``: an admin reaches
    everything, an organiser only people inside ``area``'s subtree, an analyst reads
    (inside ``area`` when set) and changes nothing.
    """

    class Role(models.TextChoices):
        ADMIN = "admin", _("National admin")
        ORGANISER = "organiser", _("Area organiser")
        ANALYST = "analyst", _("Read-only analyst")

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role, default=Role.ORGANISER)
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text=_("Organisers and analysts see only people inside this area."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("Django admin access"),
        default=False,
        help_text=_("Lets a superuser open the low-level Django admin. Not needed for Clarion."),
    )
    date_joined = models.DateTimeField(_("created"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="admin")
                | models.Q(role="analyst")
                | models.Q(area__isnull=False),
                name="organiser_has_area",
                violation_error_message=_("An area organiser must have an area."),
            )
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return (self.name or self.email).split(" ")[0]

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == self.Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.is_active and self.role in (self.Role.ADMIN, self.Role.ORGANISER)

    @property
    def scope_area(self):
        """The area this user is confined to, or None for national reach."""
        if self.role == self.Role.ADMIN:
            return None
        return self.area


class AuditEntry(models.Model):
    """A sensitive staff action. Rows are only ever added."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Failed login")
        EXPORT = "export", _("Export")
        DELETE = "delete", _("Delete")
        ERASE = "erase", _("Erase person")
        MERGE = "merge", _("Merge people")
        ROLE_CHANGE = "role_change", _("Role change")
        USER_CREATE = "user_create", _("Staff user created")
        USER_DEACTIVATE = "user_deactivate", _("Staff user deactivated")
        IMPORT = "import", _("Import")
        TWO_FACTOR = "two_factor", _("Two-factor change")
        OTHER = "other", _("Other")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=30, choices=Action)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action}"


class ScheduledJob(models.Model):
    """When a periodic job (``core.schedule``) is next due, shared by every clock.

    A clock runs a job only after moving ``next_run_at`` forward with a conditional
    UPDATE, so however many clocks run, one of them wins each period.
    """

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_claimed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self) -> str:
        return self.name


class RetentionPolicy(models.Model):
    """How long personal data is kept (storage limitation); one row, ``pk`` 1.

    Off by default: nothing is erased until an admin has previewed and enabled it.
    The run itself is ``people.retention.retention_run``.
    """

    enabled = models.BooleanField(_("enabled"), default=False)
    inactive_years = models.PositiveSmallIntegerField(
        _("erase people inactive for (years)"),
        default=3,
        help_text=_(
            "People who have done nothing for this long, are not members and have "
            "no gift inside the record-keeping period are erased."
        ),
    )
    donation_record_years = models.PositiveSmallIntegerField(
        _("keep donors for (years)"),
        default=7,
        help_text=_(
            "The legal record-keeping period for gifts: in the UK six years plus the current one."
        ),
    )
    unconfirmed_days = models.PositiveSmallIntegerField(
        _("delete unconfirmed sign-ups after (days)"),
        default=30,
        help_text=_(
            "Actions waiting for email confirmation (double opt-in) that were never confirmed."
        ),
    )
    ip_hash_days = models.PositiveSmallIntegerField(
        _("forget IP address hashes after (days)"),
        default=90,
        help_text=_("Kept on actions and questions to spot abuse."),
    )
    ratelimit_days = models.PositiveSmallIntegerField(
        _("forget rate-limit counters after (days)"),
        default=1,
        help_text=_(
            "Counted per hashed IP address or email; removed this long after their window ends."
        ),
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_report = models.JSONField(default=dict, blank=True)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policy")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="retention_policy_singleton"),
            models.CheckConstraint(
                condition=models.Q(inactive_years__gte=1)
                & models.Q(donation_record_years__gte=1)
                & models.Q(unconfirmed_days__gte=1)
                & models.Q(ip_hash_days__gte=1),
                name="retention_periods_positive",
                violation_error_message=_("Every period must be at least 1."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Retention policy"))

    @classmethod
    def load(cls) -> RetentionPolicy:
        """The policy row, created (disabled, with the defaults) on first use."""
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class DemoMail(models.Model):
    """A message the demo "sent": kept so the staff Outbox page can show it, since a
    demo has no mail server (``clarion.core.demo_mail``). Only the latest few hundred
    are kept."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    from_email = models.CharField(max_length=320)
    to = models.TextField()
    subject = models.CharField(max_length=500)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.subject
