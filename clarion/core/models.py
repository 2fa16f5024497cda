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
