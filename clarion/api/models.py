from __future__ import annotations

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
        PEOPLE = "people", _("People")
        TAGS = "tags", _("Tags and taggings")

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
