"""The membership services the payment side calls: joining, payments, grace,
cancelling; numbers; the person's fields kept in step; audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.members import membership as lifecycle
from clarion.members.membership import (
    add_period,
    membership_cancel,
    membership_join,
    membership_payment_failed,
    membership_payment_received,
    membership_staff_change,
)
from clarion.members.models import (
    Membership,
    MembershipChange,
    MembershipPayment,
    MembershipType,
)
from clarion.people.models import Activity, MembershipStatus, Person

pytestmark = pytest.mark.django_db

Status = Membership.Status
D = dt.date


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour))


def test_periods_move_by_calendar_month_and_year():
    assert add_period(D(2026, 1, 31), "monthly") == D(2026, 2, 28)
    assert add_period(D(2026, 12, 15), "monthly") == D(2027, 1, 15)
    assert add_period(D(2028, 2, 29), "annual") == D(2029, 2, 28)
    assert add_period(D(2026, 3, 1), "annual") == D(2027, 3, 1)


def test_a_manual_join_is_active_at_once_with_the_next_number(north_person, standard):
    m = membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 3, 10)
    )
    assert (m.status, m.number, m.renews_on, m.joined_on) == (
        Status.ACTIVE,
        1,
        D(2026, 4, 10),
        D(2026, 3, 10),
    )
    person = Person.objects.get(pk=north_person.pk)
    assert person.membership_status == MembershipStatus.ACTIVE
    assert person.membership_number == "1"
    assert (person.joined_on, person.renews_on) == (D(2026, 3, 10), D(2026, 4, 10))
    assert Activity.objects.filter(person=person, kind=Activity.Kind.MEMBERSHIP).exists()
    entry = AuditEntry.objects.get(object_type="person", object_id=str(person.pk))
    assert entry.detail["membership"] == "joined" and entry.detail["pays_by"] == "manual"


def test_card_and_direct_debit_joins_wait_for_the_first_payment(
    north_person, south_person, standard, annual
):
    m = membership_join(person=north_person, membership_type=standard, pays_by="card")
    assert m.status == Status.PENDING and m.renews_on is None and m.number == 1
    person = Person.objects.get(pk=north_person.pk)
    assert person.membership_status == MembershipStatus.NONE
    assert person.membership_number == "1"

    paid = at(D(2026, 5, 20))
    m = membership_payment_received(
        person=north_person, amount_pence=500, paid_at=paid, provider="stripe", reference="in_1"
    )
    assert m.status == Status.ACTIVE and m.renews_on == D(2026, 6, 20)
    assert Person.objects.get(pk=north_person.pk).membership_status == MembershipStatus.ACTIVE
    assert MembershipChange.objects.filter(membership=m, kind="activated").count() == 1

    dd = membership_join(person=south_person, membership_type=annual, pays_by="direct_debit")
    assert dd.number == 2 and dd.status == Status.PENDING


def test_unknown_ways_to_pay_and_retired_types_are_refused(north_person, standard):
    with pytest.raises(ValidationError):
        membership_join(person=north_person, membership_type=standard, pays_by="bitcoin")
    retired = MembershipType.objects.create(
        name="Old", rate_pence=100, period="annual", active=False
    )
    with pytest.raises(ValidationError):
        membership_join(person=north_person, membership_type=retired, pays_by="manual")
    assert not Membership.objects.exists()


def test_an_active_member_cannot_join_twice(north_person, standard):
    membership_join(person=north_person, membership_type=standard, pays_by="manual")
    with pytest.raises(ValidationError):
        membership_join(person=north_person, membership_type=standard, pays_by="card")
    assert Membership.objects.count() == 1


def test_a_payment_renews_from_the_later_of_its_day_and_renews_on(north_person, standard):
    membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 1, 10)
    )
    # Paid early: a month on from the current renewal date, not from today.
    m = membership_payment_received(
        person=north_person,
        amount_pence=500,
        paid_at=at(D(2026, 2, 1)),
        provider="manual",
        reference="r1",
    )
    assert m.renews_on == D(2026, 3, 10)
    # Paid long after the renewal date: a month on from the payment's day.
    m = membership_payment_received(
        person=north_person,
        amount_pence=500,
        paid_at=at(D(2026, 6, 5)),
        provider="manual",
        reference="r2",
    )
    assert m.renews_on == D(2026, 7, 5)
    assert Person.objects.get(pk=north_person.pk).renews_on == D(2026, 7, 5)


def test_a_repeated_webhook_never_renews_twice(north_person, annual):
    membership_join(
        person=north_person, membership_type=annual, pays_by="card", started_at=D(2026, 1, 1)
    )
    for _ in range(3):
        m = membership_payment_received(
            person=north_person,
            amount_pence=4800,
            paid_at=at(D(2026, 1, 2)),
            provider="gocardless",
            reference="PM001",
        )
    assert m.renews_on == D(2027, 1, 2)
    assert MembershipPayment.objects.count() == 1
    assert MembershipChange.objects.filter(kind__in=["renewed", "activated"]).count() == 1
    # The same reference from another provider is another payment.
    m = membership_payment_received(
        person=north_person,
        amount_pence=4800,
        paid_at=at(D(2026, 1, 2)),
        provider="stripe",
        reference="PM001",
    )
    assert m.renews_on == D(2028, 1, 2)


def test_a_failed_payment_starts_grace_once_and_a_payment_clears_it(
    north_person, standard, settings
):
    settings.CLARION_MEMBERSHIP_GRACE_DAYS = 10
    membership_join(
        person=north_person, membership_type=standard, pays_by="card", started_at=D(2026, 1, 1)
    )
    membership_payment_received(
        person=north_person,
        amount_pence=500,
        paid_at=at(D(2026, 1, 1)),
        provider="stripe",
        reference="in_1",
    )
    m = membership_payment_failed(
        person=north_person, provider="stripe", reference="in_2", failed_at=at(D(2026, 2, 1))
    )
    assert m.status == Status.GRACE and m.grace_until == D(2026, 2, 11)
    # Still a member while in grace.
    assert Person.objects.get(pk=north_person.pk).membership_status == MembershipStatus.ACTIVE
    # The same failure again, and a second failure later, do not extend grace.
    membership_payment_failed(
        person=north_person, provider="stripe", reference="in_2", failed_at=at(D(2026, 2, 5))
    )
    m = membership_payment_failed(
        person=north_person, provider="stripe", reference="in_3", failed_at=at(D(2026, 2, 8))
    )
    assert m.grace_until == D(2026, 2, 11)
    assert MembershipPayment.objects.filter(outcome="failed").count() == 2
    # The retried invoice is collected: same reference, now paid.
    m = membership_payment_received(
        person=north_person,
        amount_pence=500,
        paid_at=at(D(2026, 2, 9)),
        provider="stripe",
        reference="in_2",
    )
    assert (m.status, m.grace_until, m.renews_on) == (Status.ACTIVE, None, D(2026, 3, 9))


def test_payments_for_someone_with_no_membership_are_refused(north_person):
    with pytest.raises(ValidationError):
        membership_payment_received(
            person=north_person,
            amount_pence=500,
            paid_at=timezone.now(),
            provider="stripe",
            reference="x",
        )
    with pytest.raises(ValidationError):
        membership_payment_failed(
            person=north_person, provider="stripe", reference="", failed_at=timezone.now()
        )
    assert not MembershipPayment.objects.exists()


def test_cancel_needs_a_reason_is_audited_and_tells_the_payment_side(
    north_person, standard, admin, monkeypatch, django_capture_on_commit_callbacks
):
    membership_join(person=north_person, membership_type=standard, pays_by="direct_debit")
    told = []
    monkeypatch.setattr(lifecycle, "cancel_listeners", [told.append])
    with pytest.raises(ValidationError):
        membership_cancel(person=north_person, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        m = membership_cancel(person=north_person, reason="Moving abroad", by=admin)
    assert m.status == Status.CANCELLED and m.cancel_reason == "Moving abroad"
    assert [t.pk for t in told] == [m.pk]
    assert Person.objects.get(pk=north_person.pk).membership_status == MembershipStatus.CANCELLED
    entry = AuditEntry.objects.filter(actor=admin).get()
    assert entry.detail["membership"] == "cancelled"
    # Cancelling again changes nothing; a late payment does not bring it back.
    membership_cancel(person=north_person, reason="again")
    m = membership_payment_received(
        person=north_person,
        amount_pence=500,
        paid_at=timezone.now(),
        provider="gocardless",
        reference="late",
    )
    assert m.status == Status.CANCELLED


def test_rejoining_keeps_the_number(north_person, south_person, standard):
    first = membership_join(person=north_person, membership_type=standard, pays_by="manual")
    membership_cancel(person=north_person, reason="Left")
    other = membership_join(person=south_person, membership_type=standard, pays_by="manual")
    again = membership_join(person=north_person, membership_type=standard, pays_by="card")
    assert (first.number, other.number, again.number) == (1, 2, 1)
    assert again.status == Status.PENDING and again.cancelled_at is None


def test_staff_change_needs_a_reason_and_records_before_and_after(
    north_person, standard, annual, admin
):
    m = membership_join(
        person=north_person, membership_type=standard, pays_by="manual", started_at=D(2026, 1, 1)
    )
    with pytest.raises(ValidationError) as caught:
        membership_staff_change(
            membership=m,
            actor=admin,
            reason="",
            status="active",
            membership_type=annual,
            renews_on=D(2027, 1, 1),
        )
    assert "reason" in caught.value.message_dict
    m = membership_staff_change(
        membership=m,
        actor=admin,
        reason="Paid a year in cash at conference",
        status="active",
        membership_type=annual,
        renews_on=D(2027, 1, 1),
    )
    assert m.membership_type == annual and m.renews_on == D(2027, 1, 1)
    change = MembershipChange.objects.get(kind="changed")
    assert change.detail["before"]["type"] == "Standard"
    assert change.detail["after"]["renews_on"] == "2027-01-01"
    assert change.actor == admin and change.reason.startswith("Paid a year")
    assert Person.objects.get(pk=north_person.pk).renews_on == D(2027, 1, 1)
    assert AuditEntry.objects.filter(actor=admin, detail__membership="changed").exists()


def test_a_number_an_older_record_holds_is_skipped(north_person, south_person, standard):
    Person.objects.filter(pk=south_person.pk).update(membership_number="1")
    m = membership_join(person=north_person, membership_type=standard, pays_by="manual")
    assert m.number == 2


def test_a_rolled_back_join_leaves_no_gap(north_person, south_person, standard):
    from django.db import transaction

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        membership_join(person=north_person, membership_type=standard, pays_by="manual")
        raise Boom
    assert not Membership.objects.exists()
    third = factories.person(email="third@example.net")
    numbers = [
        membership_join(person=p, membership_type=standard, pays_by="manual").number
        for p in (south_person, third)
    ]
    assert numbers == [1, 2]
