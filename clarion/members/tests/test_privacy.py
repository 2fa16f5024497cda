"""What the members' home stores is exported, erased and merged with the person
(invariant 7), and nothing readable is left behind."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder

from clarion.core import privacy
from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.members.models import MemberCard, MemberSession, SignInLink
from clarion.members.services import member_card_get_or_create
from clarion.people.models import Person
from clarion.people.services import person_erase, person_merge
from clarion.people.tests.test_privacy import rows_mentioning

from .conftest import sign_in


def test_export_lists_links_sessions_and_card(client, member):
    sign_in(client, member)
    member_card_get_or_create(person=member)
    data = privacy.export_person(member)["members"]
    assert len(data["sign_in_links"]) == 1 and data["sign_in_links"][0]["used_at"]
    assert len(data["sessions"]) == 1 and len(data["membership_card"]) == 1
    json.dumps(data, cls=DjangoJSONEncoder)


def test_erasure_leaves_nothing_of_the_member(client, member, admin):
    sign_in(client, member)
    member_card_get_or_create(person=member)
    client.post(
        "/members/details/", {"first_name": "Mo", "last_name": "Zanzibarova", "town": "Leeds"}
    )
    assert Person.objects.get(pk=member.pk).last_name == "Zanzibarova"
    person_erase(person=member, actor=admin)
    assert not SignInLink.objects.exists()
    assert not MemberSession.objects.exists()
    assert not MemberCard.objects.exists()
    assert rows_mentioning("mo@example.net") == []
    assert rows_mentioning("Zanzibarova") == []


def test_merge_ends_the_duplicates_sessions_and_card(client, member, admin, areas):
    duplicate = factories.person(postcode=areas.postcodes["north"], email="mo.two@example.net")
    sign_in(client, duplicate)
    member_card_get_or_create(person=duplicate)
    person_merge(survivor=member, duplicate=duplicate, actor=admin)
    assert not Person.objects.filter(pk=duplicate.pk).exists()
    assert not MemberSession.objects.exists() and not MemberCard.objects.exists()
    assert client.get("/members/")["Location"] == "/members/sign-in/"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.MERGE).exists()


def _member_with_history(person, kind):
    from django.utils import timezone

    from clarion.members.membership import (
        membership_join,
        membership_payment_failed,
        membership_payment_received,
    )

    membership_join(person=person, membership_type=kind, pays_by="card")
    membership_payment_received(
        person=person,
        amount_pence=500,
        paid_at=timezone.now(),
        provider="stripe",
        reference=f"in_{person.pk}",
    )
    membership_payment_failed(
        person=person, provider="stripe", reference=f"in_{person.pk}_2", failed_at=timezone.now()
    )


def test_export_includes_the_membership_payments_and_history(member, standard):
    from clarion.members.models import MembershipNotice

    _member_with_history(member, standard)
    MembershipNotice.objects.create(person=member, kind="reminder", cycle="2026-05-01")
    data = privacy.export_person(member)["members"]
    (m,) = data["membership"]
    assert m["number"] == 1 and m["type"] == "Standard" and m["status"] == "grace"
    assert [p["outcome"] for p in m["payments"]] == ["paid", "failed"]
    assert [h["kind"] for h in m["history"]] == ["joined", "activated", "payment_failed"]
    assert data["membership_emails"][0]["kind"] == "reminder"
    json.dumps(data, cls=DjangoJSONEncoder)


def test_erasure_removes_the_membership_and_its_number_is_never_reused(
    member, standard, admin, areas
):
    from clarion.members.membership import membership_join
    from clarion.members.models import Membership, MembershipChange, MembershipPayment

    _member_with_history(member, standard)
    person_erase(person=member, actor=admin)
    assert not Membership.objects.exists()
    assert not MembershipPayment.objects.exists() and not MembershipChange.objects.exists()
    newcomer = factories.person(postcode=areas.postcodes["north"])
    assert membership_join(person=newcomer, membership_type=standard, pays_by="manual").number == 2


def test_merge_moves_the_duplicates_membership_to_a_survivor_without_one(
    member, standard, admin, areas
):
    from clarion.members.models import Membership

    duplicate = factories.person(postcode=areas.postcodes["north"], email="mo.two@example.net")
    _member_with_history(duplicate, standard)
    person_merge(survivor=member, duplicate=duplicate, actor=admin)
    m = Membership.objects.get()
    assert m.person_id == member.pk and m.number == 1 and m.payments.count() == 2
    member.refresh_from_db()
    assert member.membership_number == "1"
