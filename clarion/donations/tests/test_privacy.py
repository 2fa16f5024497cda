"""Subject access, erasure and merging reach donations (invariant 7)."""

from __future__ import annotations

from clarion.core import privacy
from clarion.core.testing import factories
from clarion.donations import services
from clarion.donations.models import Donation, RecurringPlan
from clarion.donations.selectors import page_totals
from clarion.people.services import person_erase, person_merge


def _paid(page, person, amount, recurring=False, **attribution):
    donation = services.donation_start(
        page=page,
        person=person,
        amount_pence=amount,
        currency="GBP",
        recurring=recurring,
        attribution=attribution,
    ).donation
    services.donation_succeed(donation_id=donation.pk)
    return donation


def test_donations_are_in_the_subject_access_export(donation_page, north_person):
    _paid(donation_page, north_person, 1250, source="mail")
    _paid(donation_page, north_person, 500, recurring=True)
    data = privacy.export_person(north_person)["donations"]
    assert [(d["amount_pence"], d["page"], d["status"]) for d in data["donations"]] == [
        (1250, "Fund the fight", "succeeded"),
        (500, "Fund the fight", "succeeded"),
    ]
    assert data["recurring_plans"][0]["amount_pence"] == 500


def test_erasure_keeps_the_financial_record_but_not_the_person(
    donation_page, north_person, south_person, admin
):
    gift = _paid(
        donation_page,
        north_person,
        2500,
        referrer="https://x.example/?email=nora@example.net",
        utm={"utm_source": "nl"},
        mailing_token="tok",
        recruiter_id=south_person.pk,
    )
    recruited = _paid(donation_page, south_person, 1000, recruiter_id=north_person.pk)
    _paid(donation_page, north_person, 800, recurring=True)
    person_erase(person=north_person, actor=admin)

    gift.refresh_from_db()
    assert gift.person is None and gift.recruiter is None
    assert (gift.referrer, gift.utm, gift.mailing_token) == ("", {}, "")
    assert (gift.amount_pence, gift.status, gift.succeeded_at is not None) == (
        2500,
        "succeeded",
        True,
    )
    recruited.refresh_from_db()
    assert recruited.recruiter is None and recruited.person == south_person
    plan = RecurringPlan.objects.get()
    assert plan.person is None and plan.status == "cancelled"
    # Totals are unchanged: the money was still raised.
    assert page_totals(donation_page) == {"count": 3, "amount_pence": 4300}
    assert not Donation.objects.filter(person__email="nora@example.net").exists()


def test_merge_moves_donations_to_the_survivor(donation_page, north_person, admin, areas):
    duplicate = factories.person(email="nora.north@example.net", postcode=areas.postcodes["north"])
    _paid(donation_page, duplicate, 1500, recurring=True)
    person_merge(survivor=north_person, duplicate=duplicate, actor=admin)
    assert Donation.objects.get().person == north_person
    assert RecurringPlan.objects.get().person == north_person
