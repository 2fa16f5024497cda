"""Reads: a person's score decayed to now with its level and breakdown, the ladder,
the thresholds segments compare with, and who is rising or cooling among people a
viewer may see."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from .categories import CATEGORIES
from .models import RISING_HALF_LIFE_DAYS, EngagementScore, EngagementSettings
from .services import RECENT_HALF_LIFE, half_life_seconds, settings_get

COOLING_QUIET_DAYS = 30


def decayed(value: float, ref: float, *, now: float, half_life: float) -> float:
    """``value`` stored as of ``ref`` (epoch seconds), decayed to ``now``."""
    return value * 2 ** (-(now - ref) / half_life)


def levels(settings: EngagementSettings | None = None) -> list[tuple[str, int]]:
    settings = settings or settings_get()
    return [(str(name), int(threshold)) for name, threshold in settings.levels]


def level_for(score: float, ladder: list[tuple[str, int]]) -> str:
    """The highest level whose threshold ``score`` reaches (the first level if none)."""
    found = ladder[0][0] if ladder else ""
    for name, threshold in ladder:
        if score >= threshold:
            found = name
    return found


def key_at_least(points: float, *, now: datetime, settings: EngagementSettings) -> float:
    """The ``EngagementScore.key`` of a score worth exactly ``points`` at ``now``:
    a score is at least ``points`` now exactly when its key is at least this."""
    return math.log2(points) + now.timestamp() / half_life_seconds(settings)


def person_engagement(person, *, now: datetime | None = None) -> dict | None:
    """The person's score decayed to ``now``, their level, the next level and the
    points per category (largest first), or None when they have no points."""
    row = EngagementScore.objects.filter(person_id=person.pk).first()
    if row is None:
        return None
    settings = settings_get()
    now = now or timezone.now()
    h = half_life_seconds(settings)
    at = now.timestamp()
    score = decayed(row.total, row.ref, now=at, half_life=h)
    ladder = levels(settings)
    level = level_for(score, ladder)
    above = [(name, t) for name, t in ladder if t > score]
    breakdown = [
        {
            "key": c.key,
            "label": c.label,
            "points": decayed(getattr(row, c.key), row.ref, now=at, half_life=h),
        }
        for c in CATEGORIES
    ]
    breakdown = sorted((b for b in breakdown if b["points"] >= 0.05), key=lambda b: -b["points"])
    return {
        "score": score,
        "level": level,
        "next_level": above[0] if above else None,
        "recent": decayed(row.recent, row.ref, now=at, half_life=RECENT_HALF_LIFE),
        "breakdown": breakdown,
        "last_at": row.last_at,
        "as_of": now,
        "half_life_days": settings.half_life_days,
    }


def _rows(people: QuerySet, *, now: datetime, settings: EngagementSettings) -> list[dict]:
    h = half_life_seconds(settings)
    at = now.timestamp()
    ladder = levels(settings)
    found = []
    for row in people:
        score = decayed(row.engagement.total, row.engagement.ref, now=at, half_life=h)
        found.append(
            {
                "pk": row.pk,
                "name": row.full_name or row.email or "",
                "area_name": row.area.name if row.area_id else "",
                "score": round(score, 1),
                "recent": round(
                    decayed(
                        row.engagement.recent,
                        row.engagement.ref,
                        now=at,
                        half_life=RECENT_HALF_LIFE,
                    ),
                    1,
                ),
                "level": level_for(score, ladder),
                "last_at": row.engagement.last_at,
            }
        )
    return found


def rising(people: QuerySet, *, limit: int = 5, now: datetime | None = None) -> list[dict]:
    """Of ``people`` (already scoped by the caller), those earning most lately: the
    largest momentum (points with a RISING_HALF_LIFE_DAYS half-life), who earned
    something in the last RISING_HALF_LIFE_DAYS days."""
    now = now or timezone.now()
    settings = settings_get()
    qs = (
        people.filter(
            engagement__recent_key__isnull=False,
            engagement__last_at__gte=now - timedelta(days=RISING_HALF_LIFE_DAYS),
        )
        .select_related("engagement", "area")
        .order_by("-engagement__recent_key", "pk")[:limit]
    )
    return _rows(qs, now=now, settings=settings)


def cooling(people: QuerySet, *, limit: int = 5, now: datetime | None = None) -> list[dict]:
    """Of ``people`` (already scoped by the caller), those with the highest score now
    who have earned nothing for COOLING_QUIET_DAYS days: engaged people going quiet."""
    now = now or timezone.now()
    settings = settings_get()
    ladder = levels(settings)
    # Only people above the first rung: someone who signed once is not "cooling off".
    floor = ladder[1][1] if len(ladder) > 1 else 1
    qs = (
        people.filter(
            engagement__key__gte=key_at_least(max(floor, 1), now=now, settings=settings),
            engagement__last_at__lt=now - timedelta(days=COOLING_QUIET_DAYS),
        )
        .select_related("engagement", "area")
        .order_by("-engagement__key", "pk")[:limit]
    )
    return _rows(qs, now=now, settings=settings)
