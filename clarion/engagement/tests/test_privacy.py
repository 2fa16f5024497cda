"""Engagement scores in subject access, erasure and merging (invariant 7)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from clarion.core import privacy
from clarion.core.testing import factories
from clarion.engagement import services
from clarion.engagement.models import EngagementScore
from clarion.engagement.selectors import person_engagement
from clarion.people.services import person_erase, person_merge


@pytest.mark.django_db
def test_export_holds_score_level_and_breakdown(entry, north_person):
    EngagementScore.objects.all().delete()
    entry(north_person, "event", {"event": 1})
    exported = privacy.export_person(north_person)["engagement"]
    assert exported["score"] == pytest.approx(30, abs=0.01)
    assert exported["level"] == "activist"
    assert exported["breakdown"] == {"host": pytest.approx(30, abs=0.01)}


@pytest.mark.django_db
def test_export_of_someone_without_points_is_empty(north_person):
    EngagementScore.objects.all().delete()
    assert privacy.export_person(north_person)["engagement"] == {}


@pytest.mark.django_db
def test_erase_removes_the_score(entry, admin, north_person):
    entry(north_person, "question", {"session": "s"})
    pk = north_person.pk
    person_erase(person=north_person, actor=admin)
    assert not EngagementScore.objects.filter(person_id=pk).exists()


@pytest.mark.django_db
def test_merge_adds_both_scores_and_equals_a_recompute(entry, admin, areas):
    keep = factories.person(first_name="Keep")
    dup = factories.person(first_name="Dup")
    recruit = factories.person(first_name="Recruit")
    EngagementScore.objects.all().delete()
    entry(keep, "action", {"status": "confirmed"}, days=10)
    entry(dup, "event", {"event": 1, "rsvp": 1, "attendance": "attended"}, days=200)
    entry(dup, "question", {"session": "s"}, days=1)
    # The duplicate recruited someone: their points move with the recruit.
    type(recruit).objects.filter(pk=recruit.pk).update(recruiter=dup)
    services.score_add(
        person_id=dup.pk,
        category="recruit",
        points=8,
        at=type(recruit).objects.get(pk=recruit.pk).created_at,
    )
    now = timezone.now()
    before = person_engagement(keep, now=now)["score"] + person_engagement(dup, now=now)["score"]
    person_merge(survivor=keep, duplicate=dup, actor=admin)
    assert not EngagementScore.objects.filter(person_id=dup.pk).exists()
    merged = person_engagement(keep, now=now)
    assert merged["score"] == pytest.approx(before, rel=1e-6)
    assert {row["key"] for row in merged["breakdown"]} == {
        "action",
        "attend",
        "question",
        "recruit",
    }
    services.recompute(now=now)
    assert person_engagement(keep, now=now)["score"] == pytest.approx(before, rel=1e-6)


@pytest.mark.django_db
def test_merge_into_someone_without_a_score_moves_it(entry, admin, areas):
    keep = factories.person(first_name="Keep")
    dup = factories.person(first_name="Dup")
    EngagementScore.objects.all().delete()
    entry(dup, "event", {"event": 1})
    person_merge(survivor=keep, duplicate=dup, actor=admin)
    assert person_engagement(keep)["score"] == pytest.approx(30, abs=0.01)
