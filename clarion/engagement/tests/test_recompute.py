"""The full recompute: what it leaves behind besides the scores (the table's shape, a
fold that waited for it, a failure halfway)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from clarion.core.testing import factories
from clarion.engagement import services
from clarion.engagement.models import EngagementScore
from clarion.engagement.selectors import person_engagement
from clarion.people.models import Person


def _shape() -> tuple:
    """The score table as the database describes it: columns (name, type, nullable)
    and every constraint and index (name, columns, kind)."""
    with connection.cursor() as cursor:
        columns = [
            (c.name, c.type_code, c.null_ok, c.default)
            for c in connection.introspection.get_table_description(cursor, services.TABLE)
        ]
        constraints = connection.introspection.get_constraints(cursor, services.TABLE)
    described = sorted(
        (
            name,
            tuple(info["columns"]),
            bool(info["primary_key"]),
            bool(info["unique"]),
            bool(info["index"]),
            bool(info["check"]),
        )
        for name, info in constraints.items()
    )
    return columns, described


def _session_settings() -> list:
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            [list(services.RECOMPUTE_SETTINGS)],
        )
        return cursor.fetchall()


@pytest.mark.django_db
def test_recompute_leaves_the_table_as_migrations_made_it(entry):
    person = factories.person()
    entry(person, "question", {"session": "s"}, days=1)
    before = _shape()
    assert any(name == "engagement_key_idx" for name, *_rest in before[1])
    assert any(primary for _name, _cols, primary, *_rest in before[1])
    settings = _session_settings()
    services.recompute()
    services.recompute()
    assert _shape() == before
    # Its planner and memory settings ended with it, though the test's transaction
    # (like the demo's history) goes on.
    assert _session_settings() == settings
    # The rebuilt table takes folds (their ON CONFLICT needs the primary key) and
    # segment reads as before.
    entry(person, "question", {"session": "s"}, days=0)
    assert person_engagement(person)["score"] == pytest.approx(2 + 2 * 2 ** (-1 / 120), rel=1e-4)


@pytest.mark.django_db
def test_a_failed_recompute_leaves_the_scores_as_they_were(entry, monkeypatch):
    person = factories.person()
    entry(person, "question", {"session": "s"}, days=2)
    stored = EngagementScore.objects.get(person=person).total

    def broken(vendor):
        return "SELECT person_id, 1 / 0 FROM people_activity"

    monkeypatch.setattr(services, "scores_select_sql", broken)
    with pytest.raises(DatabaseError):
        services.recompute()
    assert EngagementScore.objects.get(person=person).total == stored
    with connection.cursor() as cursor:
        assert services.REBUILD not in connection.introspection.table_names(cursor)


@pytest.mark.django_db(transaction=True)
def test_a_fold_that_waits_for_the_recompute_lands_in_the_rebuilt_table(monkeypatch):
    """A signature scored while the recompute runs waits for it, then counts once."""
    person = Person.objects.create(first_name="Wai", email="wait@example.net")
    at = timezone.now()
    services.score_add(person_id=person.pk, category="action", points=3, at=at, settings=None)
    from clarion.people.models import Activity

    Activity.objects.create(
        person=person, kind="action", summary="t", data={"status": "confirmed"}, created_at=at
    )
    locked, errors = threading.Event(), []
    select = services.scores_select_sql

    def slow_select(vendor):
        # Called once the recompute holds its lock: let the fold start and queue
        # behind it.
        locked.set()
        time.sleep(0.5)
        return select(vendor)

    monkeypatch.setattr(services, "scores_select_sql", slow_select)

    def run(target):
        try:
            target()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def fold():
        locked.wait(5)
        time.sleep(0.1)
        services.score_add(person_id=person.pk, category="rsvp", points=5, at=at)

    threads = [threading.Thread(target=run, args=(services.recompute,))]
    threads.append(threading.Thread(target=run, args=(fold,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    row = EngagementScore.objects.get(person=person)
    # The recompute counted the one signature (3); the fold that waited added 5.
    assert row.action == pytest.approx(3, rel=1e-3)
    assert row.rsvp == pytest.approx(5, rel=1e-3)
    assert row.total == pytest.approx(8, rel=1e-3)
