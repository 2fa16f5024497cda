"""The engagement settings (one row) and each person's score row.

A score is stored as its value at a reference time ``ref`` (seconds since the Unix
epoch) and decays on read: ``value(now) = stored · 2^(−(now − ref) / half_life)``.
``key = log2(total) + ref / half_life`` is the same score on a scale that does not
move with time: ``value(now) ≥ N`` exactly when ``key ≥ log2(N) + now / half_life``,
so segments and dashboards compare and sort on an indexed column, with no nightly
pass. ``recent`` is the same sum with a short, fixed half-life (RISING_HALF_LIFE_DAYS),
the momentum that tells who is rising.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .categories import CATEGORIES

DEFAULT_HALF_LIFE_DAYS = 120
RISING_HALF_LIFE_DAYS = 14
DEFAULT_LEVELS = [
    ["supporter", 0],
    ["activist", 10],
    ["volunteer", 40],
    ["organiser", 100],
    ["leader", 250],
]


def default_weights() -> dict[str, int]:
    return {c.key: c.default_points for c in CATEGORIES}


def default_levels() -> list[list]:
    return [list(level) for level in DEFAULT_LEVELS]


class EngagementSettings(models.Model):
    """Points per category, the half-life and the ladder levels: one row (pk 1), edited
    on the staff settings page (``services.settings_save``, audited)."""

    weights = models.JSONField(default=default_weights)
    half_life_days = models.PositiveIntegerField(default=DEFAULT_HALF_LIFE_DAYS)
    # [[name, threshold], ...] in rising order; the first threshold is 0.
    levels = models.JSONField(default=default_levels)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recomputed_at = models.DateTimeField(null=True, blank=True)
    recomputed_people = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("engagement settings")
        verbose_name_plural = _("engagement settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(half_life_days__gte=1, half_life_days__lte=3650),
                name="engagement_half_life_range",
            )
        ]

    def __str__(self) -> str:
        return str(_("Engagement settings"))


class EngagementScore(models.Model):
    """One person's score and its breakdown, all as of ``ref``. Written only by
    ``services`` (one atomic upsert per scored entry, or the set-based recompute)."""

    # No database foreign key: the recompute writes every row, and a per-row
    # constraint check would double its cost (nor could its table swap copy one). Every writer checks the person exists
    # (the fold's WHERE EXISTS; the recompute reads ids from rows that reference
    # people), deleting a person through the ORM cascades here, and erasure and
    # merging have their own hooks (privacy.py).
    person = models.OneToOneField(
        "people.Person",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="engagement",
        db_constraint=False,
    )
    ref = models.FloatField(help_text="Seconds since the Unix epoch the values refer to.")
    total = models.FloatField(default=0)
    key = models.FloatField(null=True, blank=True)
    recent = models.FloatField(default=0)
    recent_key = models.FloatField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)
    action = models.FloatField(default=0)
    recruit = models.FloatField(default=0)
    donate = models.FloatField(default=0)
    rsvp = models.FloatField(default=0)
    attend = models.FloatField(default=0)
    host = models.FloatField(default=0)
    conversation = models.FloatField(default=0)
    question = models.FloatField(default=0)
    group = models.FloatField(default=0)
    joined = models.FloatField(default=0)

    class Meta:
        verbose_name = _("engagement score")
        # Only ``key`` is indexed (segments compare it). Rising lists sort the few
        # people active lately by ``recent_key`` without one: every index is one
        # more sorted build in the recompute (about 0.5 s at 500,000 people) and
        # one more B-tree for each fold to update.
        indexes = [models.Index(fields=["key"], name="engagement_key_idx")]

    def __str__(self) -> str:
        return f"#{self.person_id}: {self.total:.1f}"
