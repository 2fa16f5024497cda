"""Staff membership pages: the report is scoped to the organiser's area, staff
corrections need a reason and are audited, types are the national team's."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from clarion.core.models import AuditEntry, User
from clarion.core.testing import factories
from clarion.members.membership import (
    membership_join,
    membership_payment_failed,
    membership_payment_received,
)
from clarion.members.models import Membership, MembershipType

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(areas, north_person, south_person, standard, annual):
    """North: Nora (active, paid £5 this month) and Nell (in arrears). South: Sid (in
    arrears)."""
    now = timezone.now()
    nell = factories.person(
        postcode=areas.postcodes["north2"], first_name="Nell", last_name="Arrears"
    )
    membership_join(person=north_person, membership_type=standard, pays_by="card")
    membership_payment_received(
        person=north_person, amount_pence=500, paid_at=now, provider="stripe", reference="in_1"
    )
    for person in (nell, south_person):
        membership_join(person=person, membership_type=annual, pays_by="manual")
        membership_payment_failed(
            person=person, provider="gocardless", reference=f"PM-{person.pk}", failed_at=now
        )
    return {"nora": north_person, "nell": nell, "sid": south_person}


def _cell(page: str, attr: str, value: str) -> str:
    match = re.search(rf'data-{attr}="{re.escape(value)}">([^<]*)<', page)
    assert match, f"no {attr}={value}"
    return match.group(1).strip()


def test_an_organiser_sees_only_their_area(organiser_client, members, areas):
    response = organiser_client.get("/staff/members/")
    page = response.content.decode()
    assert response.status_code == 200
    assert _cell(page, "stat", "total") == "2"
    assert _cell(page, "status", "active") == "1"
    assert _cell(page, "status", "grace") == "1"
    assert _cell(page, "type", "Annual") == "1"
    assert "Nell Arrears" in page and "Sid South" not in page and "sid@example.net" not in page
    # Naming the South area in the query changes nothing: it is outside their scope.
    other = organiser_client.get("/staff/members/", {"area": areas.south.pk}).content.decode()
    assert _cell(other, "stat", "total") == "2" and "Sid South" not in other


def test_national_staff_see_everyone_and_can_narrow_to_an_area(admin_client, members, areas):
    page = admin_client.get("/staff/members/").content.decode()
    assert _cell(page, "stat", "total") == "3"
    assert "Sid South" in page and "Nell Arrears" in page
    south = admin_client.get("/staff/members/", {"area": areas.south.pk}).content.decode()
    assert _cell(south, "stat", "total") == "1"
    assert "Sid South" in south and "Nell Arrears" not in south


def test_the_month_table_counts_joins_renewals_lapses_and_dues(admin_client, members):
    m = Membership.objects.get(person=members["nora"])
    membership_payment_received(
        person=members["nora"],
        amount_pence=500,
        paid_at=timezone.now(),
        provider="stripe",
        reference="in_2",
    )
    page = admin_client.get("/staff/members/").content.decode()
    month = timezone.localdate().strftime("%Y-%m")
    row = re.search(rf'<tr data-month="{month}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
    assert cells[0] == "3"  # joined
    assert cells[1] == "1"  # renewed (the first payment activates, the second renews)
    assert cells[2] == "0"  # lapsed
    assert "£10.00" in cells[3] and "(2)" in cells[3]
    assert m.number == 1


def test_staff_change_needs_a_reason_and_is_audited(organiser_client, organiser, members):
    nell = members["nell"]
    url = f"/staff/members/{nell.pk}/"
    page = organiser_client.get(url)
    assert page.status_code == 200 and "Nell Arrears" in page.content.decode()
    annual = MembershipType.objects.get(name="Annual")
    bad = organiser_client.post(
        url, {"status": "active", "membership_type": annual.pk, "renews_on": "2027-05-01"}
    )
    assert bad.status_code == 400 and "There is a problem" in bad.content.decode()
    assert Membership.objects.get(person=nell).status == "grace"
    no_date = organiser_client.post(
        url, {"status": "active", "membership_type": annual.pk, "reason": "paid"}
    )
    assert no_date.status_code == 400
    assert "needs a renewal date" in no_date.content.decode()
    ok = organiser_client.post(
        url,
        {
            "status": "active",
            "membership_type": annual.pk,
            "renews_on": "2027-05-01",
            "reason": "Paid by cheque at the branch meeting",
        },
    )
    assert ok.status_code == 302
    m = Membership.objects.get(person=nell)
    assert (m.status, m.renews_on, m.grace_until) == ("active", dt.date(2027, 5, 1), None)
    nell.refresh_from_db()
    assert nell.renews_on == dt.date(2027, 5, 1)
    entry = AuditEntry.objects.get(actor=organiser, detail__membership="changed")
    assert entry.detail["before"]["status"] == "grace"
    assert "Paid by cheque" in organiser_client.get(url).content.decode()


def test_an_organiser_cannot_reach_another_areas_member(organiser_client, members):
    sid = members["sid"]
    annual = MembershipType.objects.get(name="Annual")
    assert organiser_client.get(f"/staff/members/{sid.pk}/").status_code == 404
    response = organiser_client.post(
        f"/staff/members/{sid.pk}/",
        {"status": "cancelled", "membership_type": annual.pk, "reason": "x"},
    )
    assert response.status_code == 404
    assert Membership.objects.get(person=sid).status == "grace"


def test_read_only_staff_cannot_change_memberships(client, members):
    analyst = factories.staff_user(role=User.Role.ANALYST)
    client.force_login(analyst)
    assert client.get("/staff/members/").status_code == 200
    assert client.get(f"/staff/members/{members['nora'].pk}/").status_code == 403


def test_a_person_without_a_membership_has_no_change_page(admin_client, areas):
    person = factories.person(postcode=areas.postcodes["north"])
    assert admin_client.get(f"/staff/members/{person.pk}/").status_code == 404


def test_types_are_set_by_national_staff(client, admin, organiser, standard):
    from django.test import Client

    organiser_client, admin_client = client, Client()
    organiser_client.force_login(organiser)
    admin_client.force_login(admin)
    assert organiser_client.get("/staff/members/types/").status_code == 200
    assert "Add a type" not in organiser_client.get("/staff/members/types/").content.decode()
    assert (
        organiser_client.post(
            "/staff/members/types/", {"name": "X", "rate_pence": 1, "period": "monthly"}
        ).status_code
        == 403
    )
    assert organiser_client.get(f"/staff/members/types/{standard.pk}/").status_code == 403

    bad = admin_client.post(
        "/staff/members/types/", {"name": "Big", "rate_pence": "-5", "period": "weekly"}
    )
    assert bad.status_code == 400
    assert not MembershipType.objects.filter(name="Big").exists()
    ok = admin_client.post(
        "/staff/members/types/",
        {"name": "Concession", "rate_pence": "100", "period": "monthly", "active": "on"},
    )
    assert ok.status_code == 302
    assert MembershipType.objects.get(name="Concession").rate_pence == 100
    edit = admin_client.post(
        f"/staff/members/types/{standard.pk}/",
        {"name": "Standard", "rate_pence": "600", "period": "monthly", "order": "1"},
    )
    assert edit.status_code == 302
    standard.refresh_from_db()
    assert (standard.rate_pence, standard.active) == (600, False)
