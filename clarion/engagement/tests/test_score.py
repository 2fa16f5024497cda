"""The score: points per entry, decay, the incremental fold equal to the full recompute."""

from __future__ import annotations

import datetime
import math
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from clarion.core.testing import factories
from clarion.engagement import services
from clarion.engagement.categories import CATEGORY_KEYS
from clarion.engagement.models import EngagementScore
from clarion.engagement.selectors import person_engagement
from clarion.people.models import Person
from clarion.people.services import person_upsert


def _scores(now) -> dict[int, dict[str, float]]:
    """Every stored score decayed to ``now``: {person_id: {total, recent, each category}}."""
    settings = services.settings_get(fresh=True)
    h = services.half_life_seconds(settings)
    t = now.timestamp()
    found = {}
    for row in EngagementScore.objects.all():
        values = {"total": row.total * 2 ** (-(t - row.ref) / h)}
        values["recent"] = row.recent * 2 ** (-(t - row.ref) / services.RECENT_HALF_LIFE)
        for key in CATEGORY_KEYS:
            values[key] = getattr(row, key) * 2 ** (-(t - row.ref) / h)
        values["key_score"] = 2 ** (row.key - t / h) if row.key is not None else 0.0
        found[row.person_id] = values
    return found


def _assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for pid in a:
        for name, value in a[pid].items():
            assert value == pytest.approx(b[pid][name], rel=1e-6, abs=1e-9), (pid, name)


def _varied(entry, people):
    """Entries of every scored shape, of many ages, and some that earn nothing."""
    a, b, c = people
    entry(a, "action", {"page": 1, "status": "confirmed"}, days=400)
    entry(a, "action", {"page": 2, "status": "pending"}, days=10)
    entry(a, "action", {"page": 2, "status": "confirmed"}, days=9)
    entry(a, "event", {"event": 1, "rsvp": 5, "status": "going", "guests": 0}, days=30)
    entry(a, "event", {"event": 1, "rsvp": 5, "attendance": "attended"}, days=28)
    entry(a, "event", {"event": 2, "rsvp": 6, "attendance": "no_show"}, days=3)
    entry(b, "event", {"event": 3}, days=60)  # proposed (hosts) an event
    entry(b, "event", {"event": 3, "host_message": 4}, days=59)
    entry(b, "event", {"event": 4, "canvass": 1, "outcome": "spoke"}, days=1)
    entry(b, "event", {"event": 4, "canvass": 2, "outcome": "refused"}, days=1)
    entry(b, "event", {"event": 1, "rsvp": 7, "status": "cancelled"}, days=2)
    entry(c, "donation", {"event": "succeeded", "donation_id": 1}, days=0.5)
    entry(c, "donation", {"event": "refunded", "donation_id": 1}, days=0.2)
    entry(c, "donation", {"event": "recorded", "donation_id": 2}, days=700)
    entry(c, "question", {"session": "x", "question": 1}, days=5)
    entry(c, "other", {"area": 1, "code": "LEEDS"}, days=100)
    entry(c, "note", {"text": "hello"}, days=1)
    entry(c, "email", {"mailing": 3}, days=1)


@pytest.mark.django_db
@pytest.mark.parametrize("half_life_days", [1, 30, 120, 3650])
def test_incremental_fold_equals_full_recompute(entry, half_life_days):
    from clarion.engagement.models import EngagementSettings

    EngagementSettings.objects.update_or_create(
        pk=1,
        defaults={
            "half_life_days": half_life_days,
            "weights": {
                **{k: 0 for k in CATEGORY_KEYS},
                "action": 3,
                "rsvp": 5,
                "attend": 15,
                "host": 30,
                "conversation": 2,
                "question": 2,
                "group": 5,
                "donate": 7,
                "joined": 1,
                "recruit": 8,
            },
        },
    )
    services.settings_forget()
    people = [factories.person(first_name=n) for n in ("Ann", "Bob", "Cat")]
    # The CREATED entries were written inside the test transaction: fold them by hand.
    from clarion.people.models import Activity

    for activity in Activity.objects.filter(kind="created"):
        services.activity_fold(activity)
    recruit = person_upsert(email="recruit@example.net", recruiter=people[0]).person
    services.activity_fold(Activity.objects.get(person=recruit, kind="created"))
    _varied(entry, people)
    now = timezone.now()
    incremental = _scores(now)
    assert incremental[people[0].pk]["action"] > 0
    assert incremental[people[0].pk]["recruit"] == pytest.approx(8, rel=1e-3)
    services.recompute(now=now)
    _assert_same(incremental, _scores(now))


@pytest.mark.django_db
def test_points_halve_every_half_life(entry):
    person = factories.person()
    EngagementScore.objects.all().delete()
    entry(person, "event", {"event": 1, "rsvp": 1, "attendance": "attended"}, days=120)
    found = person_engagement(person)
    # Attending earns 15 by default; 120 days is one default half-life.
    assert found["score"] == pytest.approx(7.5, rel=1e-4)
    later = person_engagement(person, now=timezone.now() + datetime.timedelta(days=240))
    assert later["score"] == pytest.approx(15 / 8, rel=1e-4)


@pytest.mark.django_db
def test_fold_of_an_older_entry_keeps_the_later_reference(entry):
    person = factories.person()
    EngagementScore.objects.all().delete()
    entry(person, "action", {"status": "confirmed"}, days=0)
    entry(person, "action", {"status": "confirmed"}, days=120)  # arrives late
    assert person_engagement(person)["score"] == pytest.approx(3 + 1.5, rel=1e-4)
    row = EngagementScore.objects.get(person=person)
    assert row.ref == pytest.approx(timezone.now().timestamp(), abs=60)


@pytest.mark.django_db
def test_entries_that_earn_nothing_write_no_score(entry):
    person = factories.person()
    EngagementScore.objects.all().delete()
    entry(person, "note", {"text": "hi"})
    entry(person, "action", {"status": "pending"})
    entry(person, "created", {"recruiter": None})  # joined: 0 points by default
    assert not EngagementScore.objects.filter(person=person).exists()
    assert person_engagement(person) is None


@pytest.mark.django_db
def test_a_fold_for_a_person_who_is_gone_writes_nothing():
    services.score_add(person_id=987654, category="action", points=3, at=timezone.now())
    assert not EngagementScore.objects.exists()


@pytest.mark.django_db
def test_weights_change_starts_a_recompute(
    entry, admin, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    person = factories.person()
    entry(person, "question", {"session": "s"}, days=0)
    assert person_engagement(person)["score"] == pytest.approx(2, rel=1e-4)
    row = services.settings_get(fresh=True)
    weights = {**row.weights, "question": 10}
    with django_capture_on_commit_callbacks(execute=True):
        services.settings_save(weights=weights, half_life_days=120, levels=row.levels, actor=admin)
    assert person_engagement(person)["score"] == pytest.approx(10, rel=1e-4)
    from clarion.core.models import AuditEntry

    audit = AuditEntry.objects.get(object_type="engagement_settings")
    assert audit.detail["before"]["weights"]["question"] == 2
    assert audit.detail["after"]["weights"]["question"] == 10


@pytest.mark.django_db
def test_a_signature_through_the_real_listener_scores(django_capture_on_commit_callbacks):
    """activity_record runs the fold after commit (registered in EngagementConfig.ready)."""
    with django_capture_on_commit_callbacks(execute=True):
        person = person_upsert(email="live@example.net").person
        from clarion.people.services import activity_record

        activity_record(person=person, kind="action", summary="x", data={"status": "confirmed"})
    assert person_engagement(person)["score"] == pytest.approx(3, rel=1e-4)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_folds_both_count():
    """Two connections fold into the same row at the same moment; neither is lost."""
    person = Person.objects.create(first_name="Con", email="con@example.net")
    at = timezone.now()
    services.score_add(person_id=person.pk, category="action", points=1, at=at)
    errors = []
    barrier = threading.Barrier(2)

    def fold(points):
        try:
            barrier.wait()
            for _ in range(20):
                services.score_add(person_id=person.pk, category="rsvp", points=points, at=at)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fold, args=(p,)) for p in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    row = EngagementScore.objects.get(person=person)
    assert row.rsvp == pytest.approx(60, rel=1e-9)
    assert row.total == pytest.approx(61, rel=1e-9)
    assert row.key == pytest.approx(math.log2(61) + row.ref / (120 * 86400.0))
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.django_db
def test_live_folding_can_be_turned_off_for_a_bulk_load(entry, settings):
    settings.CLARION_ENGAGEMENT_LIVE = False
    person = factories.person()
    EngagementScore.objects.all().delete()
    entry(person, "action", {"status": "confirmed"})
    assert person_engagement(person) is None
    services.recompute()
    assert person_engagement(person)["score"] == pytest.approx(3, rel=1e-4)
