"""Staff pages: scoped through the donor, read-only for analysts, audited decisions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clarion.core.models import AuditEntry
from clarion.donations import services
from clarion.donations.models import Donation, RecurringPlan


def _paid(page, person, amount=1250, recurring=False, source="") -> Donation:
    donation = services.donation_start(
        page=page,
        person=person,
        amount_pence=amount,
        currency="GBP",
        recurring=recurring,
        attribution={"source": source},
    ).donation
    services.donation_succeed(donation_id=donation.pk)
    donation.refresh_from_db()
    return donation


@pytest.fixture
def gifts(donation_page, north_person, south_person):
    return {
        "north": _paid(donation_page, north_person, 1250, source="<b>north-src</b>"),
        "south": _paid(donation_page, south_person, 60000),
        "north_monthly": _paid(donation_page, north_person, 700, recurring=True),
    }


def test_admin_sees_every_donation_with_totals(admin_client, gifts):
    html = admin_client.get(reverse("donations_staff:list")).content.decode()
    assert "Nora North" in html and "Sid South" in html
    assert "3 donations" in html and "£619.50 received" in html
    assert "&lt;b&gt;north-src&lt;/b&gt;" in html  # user text escaped


def test_organiser_sees_only_donors_in_their_area(organiser_client, gifts):
    html = organiser_client.get(reverse("donations_staff:list")).content.decode()
    assert "Nora North" in html and "Sid South" not in html
    assert "2 donations" in html


def test_list_filters_by_status_and_page_and_rejects_bad_filters(
    admin_client, gifts, donation_page
):
    url = reverse("donations_staff:list")
    html = admin_client.get(url, {"permissibility": "pending"}).content.decode()
    assert "Sid South" in html and "Nora North" not in html
    html = admin_client.get(url, {"page": donation_page.pk, "status": "succeeded"}).content.decode()
    assert "3 donations" in html
    bad = admin_client.get(url, {"page": "99999", "status": "<script>"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode() and "0 donations" in bad.content.decode()
    assert admin_client.get(url, {"after": "abc", "plan": "x' OR 1=1"}).status_code == 200


def test_organiser_of_another_area_gets_404_for_a_donation_and_its_actions(
    client, south_organiser, gifts
):
    client.force_login(south_organiser)
    north = gifts["north"]
    assert client.get(reverse("donations_staff:detail", args=[north.pk])).status_code == 404
    assert (
        client.post(
            reverse("donations_staff:permissibility", args=[north.pk]), {"decision": "cleared"}
        ).status_code
        == 404
    )
    plan = RecurringPlan.objects.get()
    assert client.post(reverse("donations_staff:plan_renew", args=[plan.pk])).status_code == 404
    assert client.post(reverse("donations_staff:plan_cancel", args=[plan.pk])).status_code == 404
    assert "Nora North" not in client.get(reverse("donations_staff:plans")).content.decode()
    plan.refresh_from_db()
    assert plan.status == "active" and plan.donations.count() == 1
    assert (
        client.get(reverse("donations_staff:detail", args=[gifts["south"].pk])).status_code == 200
    )


def test_staff_pages_need_login(client, gifts):
    for name, args in [
        ("list", []),
        ("detail", [gifts["north"].pk]),
        ("compliance", []),
        ("plans", []),
    ]:
        response = client.get(reverse(f"donations_staff:{name}", args=args))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_compliance_queue_lists_flagged_gifts_and_an_admin_clears_one(admin_client, admin, gifts):
    south = gifts["south"]
    queue = admin_client.get(reverse("donations_staff:compliance")).content.decode()
    assert "Sid South" in queue and "£600.00" in queue and "Nora North" not in queue
    response = admin_client.post(
        reverse("donations_staff:permissibility", args=[south.pk]),
        {"decision": "cleared", "note": "On the electoral register"},
    )
    assert response.status_code == 302
    south.refresh_from_db()
    assert (south.permissibility, south.permissibility_by, south.permissibility_note) == (
        "cleared",
        admin,
        "On the electoral register",
    )
    entry = AuditEntry.objects.get(object_type="donation", object_id=str(south.pk))
    assert entry.detail["event"] == "permissibility_cleared" and entry.actor == admin
    assert (
        "Nothing is waiting"
        in admin_client.get(reverse("donations_staff:compliance")).content.decode()
    )
    # Deciding twice is refused with a message, not a crash.
    again = admin_client.post(
        reverse("donations_staff:permissibility", args=[south.pk]),
        {"decision": "rejected"},
        follow=True,
    )
    assert "not waiting for a check" in again.content.decode()


def test_organiser_sees_and_decides_only_their_areas_flagged_gifts(
    client, organiser, donation_page, north_person, gifts
):
    big = _paid(donation_page, north_person, 75000)
    client.force_login(organiser)
    queue = client.get(reverse("donations_staff:compliance")).content.decode()
    assert "£750.00" in queue and "Sid South" not in queue
    client.post(
        reverse("donations_staff:permissibility", args=[big.pk]),
        {"decision": "rejected", "note": "foreign"},
    )
    big.refresh_from_db()
    assert big.permissibility == "rejected"


def test_bad_decision_is_a_form_error(admin_client, gifts):
    response = admin_client.post(
        reverse("donations_staff:permissibility", args=[gifts["south"].pk]),
        {"decision": "maybe", "note": "x" * 600},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice" in html and "at most 500 characters" in html


def test_analyst_reads_but_cannot_decide_or_change_plans(client, analyst, gifts):
    client.force_login(analyst)
    assert (
        client.get(reverse("donations_staff:detail", args=[gifts["south"].pk])).status_code == 200
    )
    assert (
        client.post(
            reverse("donations_staff:permissibility", args=[gifts["south"].pk]),
            {"decision": "cleared"},
        ).status_code
        == 403
    )
    plan = RecurringPlan.objects.get()
    assert client.post(reverse("donations_staff:plan_cancel", args=[plan.pk])).status_code == 403
    html = client.get(reverse("donations_staff:plans")).content.decode()
    assert "Simulate renewal" not in html


def test_staff_simulate_a_renewal_and_stop_a_test_plan(
    organiser_client, organiser, gifts, north_person
):
    plan = RecurringPlan.objects.get()
    html = organiser_client.get(reverse("donations_staff:plans")).content.decode()
    assert "Nora North" in html and "£7.00" in html and "Simulate renewal" in html
    organiser_client.post(reverse("donations_staff:plan_renew", args=[plan.pk]))
    assert plan.donations.filter(status="succeeded").count() == 2
    organiser_client.post(
        reverse("donations_staff:plan_cancel", args=[plan.pk]), {"reason": "asked by phone"}
    )
    plan.refresh_from_db()
    assert plan.status == "cancelled" and plan.cancel_reason == "asked by phone"
    assert AuditEntry.objects.filter(object_type="recurring_plan", object_id=str(plan.pk)).exists()
    response = organiser_client.post(
        reverse("donations_staff:plan_renew", args=[plan.pk]), follow=True
    )
    assert "This plan is cancelled." in response.content.decode()
    assert plan.donations.count() == 2


def test_nonexistent_ids_are_404(admin_client, gifts):
    assert admin_client.get(reverse("donations_staff:detail", args=[999999])).status_code == 404
    assert (
        admin_client.post(reverse("donations_staff:plan_renew", args=[999999])).status_code == 404
    )
