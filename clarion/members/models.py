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
