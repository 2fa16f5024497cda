"""Q&A personal data, registered with ``clarion.core.privacy`` (invariant 7)."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from clarion.core import privacy

from .models import Ban, Question, Vote


def export(person) -> dict[str, Any]:
    questions = list(
        Question.objects.filter(person=person)
        .order_by("created_at")
        .values(
            "session__title",
            "display_name",
            "text",
            "original_text",
            "status",
            "answer_text",
            "created_at",
        )
    )
    votes = list(Vote.objects.filter(person=person).values("question_id", "created_at"))
    banned = Ban.objects.filter(person=person).exists()
    return {"questions": questions, "votes": votes, "banned": banned}


def erase(person) -> None:
    # Votes leave the counts too, so the public numbers stay true.
    for vote in Vote.objects.filter(person=person).select_related("question"):
        Question.objects.filter(pk=vote.question_id, votes_count__gt=0).update(
            votes_count=F("votes_count") - 1
        )
    Vote.objects.filter(person=person).delete()
    Question.objects.filter(merged_into__person=person).update(merged_into=None)
    Question.objects.filter(person=person).delete()
    # A ban outlives erasure as hashes only (like the suppression list).
    Ban.objects.filter(person=person).update(person=None)


def merge(survivor, duplicate) -> None:
    voted = Vote.objects.filter(person=survivor).values("question_id")
    for vote in Vote.objects.filter(person=duplicate, question_id__in=voted):
        Question.objects.filter(pk=vote.question_id, votes_count__gt=0).update(
            votes_count=F("votes_count") - 1
        )
        vote.delete()
    Vote.objects.filter(person=duplicate).update(person=survivor)
    Question.objects.filter(person=duplicate).update(person=survivor)
    Ban.objects.filter(person=duplicate).update(person=survivor)


privacy.register("qa", export=export, erase=erase, merge=merge)
