"""Engagement scores in subject access, erasure and merging (invariant 7)."""

from __future__ import annotations

from clarion.core import privacy

from .selectors import person_engagement
from .services import scores_erase, scores_merge


def export(person) -> dict:
    found = person_engagement(person)
    if found is None:
        return {}
    return {
        "score": round(found["score"], 2),
        "level": found["level"],
        "as_of": found["as_of"].isoformat(),
        "last_scored_activity": found["last_at"].isoformat() if found["last_at"] else None,
        "breakdown": {row["key"]: round(row["points"], 2) for row in found["breakdown"]},
    }


privacy.register("engagement", export=export, erase=scores_erase, merge=scores_merge)
