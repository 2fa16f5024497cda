"""Membership numbers under concurrency: several joins at once get 1..N, no gap, no
duplicate, and a join that fails after taking a number gives it back."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from clarion.core.testing import factories
from clarion.members.membership import membership_join
from clarion.members.models import Membership, MembershipNumberCounter, MembershipType

pytestmark = pytest.mark.django_db(transaction=True)

JOINERS = 8


def test_simultaneous_joins_get_consecutive_numbers(areas):
    kind = MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly")
    people = [factories.person(email=f"joiner{i}@example.net") for i in range(JOINERS)]
    start = threading.Barrier(JOINERS)
    errors: list[BaseException] = []

    def join(person):
        try:
            start.wait(timeout=10)
            membership_join(person=person, membership_type=kind, pays_by="manual")
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=join, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    numbers = sorted(Membership.objects.values_list("number", flat=True))
    assert numbers == list(range(1, JOINERS + 1))
    assert MembershipNumberCounter.objects.get().last == JOINERS


def test_a_failed_join_inside_a_race_leaves_no_gap(areas):
    """One of the joiners fails after its number was allocated (the person row is
    gone, so syncing the person fails): its transaction rolls back with the counter."""
    kind = MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly")
    people = [factories.person(email=f"racer{i}@example.net") for i in range(4)]
    doomed = factories.person(email="doomed@example.net")
    # A stale instance: the row is deleted, so the join fails at the person update.
    doomed_pk = doomed.pk
    type(doomed).objects.filter(pk=doomed_pk).delete()
    doomed.pk = doomed_pk
    start = threading.Barrier(5)
    failures: list[str] = []

    def join(person):
        try:
            start.wait(timeout=10)
            membership_join(person=person, membership_type=kind, pays_by="manual")
        except Exception as exc:  # noqa: BLE001
            failures.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=join, args=(p,)) for p in [*people, doomed]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(failures) == 1
    assert sorted(Membership.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
    assert MembershipNumberCounter.objects.get().last == 4
