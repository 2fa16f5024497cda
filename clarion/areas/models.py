from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Area(models.Model):
    """A node of the organisation's tree: nation › region › constituency › branch.

    ``path`` is the materialised path of ids (``/1/4/19/``), so a subtree is one
    indexed prefix match and needs no recursion. It is maintained by
    ``areas.services.area_create`` / ``area_move`` only.
    """

    class Kind(models.TextChoices):
        NATION = "nation", _("Nation")
        REGION = "region", _("Region")
        CONSTITUENCY = "constituency", _("Constituency")
        BRANCH = "branch", _("Branch / ward")
        GROUP = "group", _("Local group")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.BRANCH)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    # The public local group page (``groups:detail``).
    get_involved = models.TextField(
        _("how to get involved"),
        blank=True,
        max_length=5000,
        help_text=_(
            "Shown on the area's public group page. Plain text; blank lines start a new paragraph."
        ),
    )
    join_tag = models.CharField(
        _("tag for people who join"),
        max_length=100,
        blank=True,
        help_text=_("Given to everyone who joins through the group page. Empty: “Group: <code>”."),
    )

    class Meta:
        ordering = ["path"]
        verbose_name = _("area")
        verbose_name_plural = _("areas")

    def __str__(self) -> str:
        return self.name

    def group_tag_name(self) -> str:
        """The tag that marks the people who joined this area's local group."""
        return self.join_tag.strip() or f"Group: {self.code}"

    def is_within(self, other: Area | None) -> bool:
        """True if this area is ``other`` or below it; everything is within None."""
        return other is None or self.path.startswith(other.path)


class Postcode(models.Model):
    """Postcode → area and location, loaded by ``clarion load_postcodes``."""

    postcode = models.CharField(max_length=8, primary_key=True)
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latitude = models.FloatField()
    longitude = models.FloatField()

    class Meta:
        verbose_name = _("postcode")
        verbose_name_plural = _("postcodes")

    def __str__(self) -> str:
        return self.postcode
