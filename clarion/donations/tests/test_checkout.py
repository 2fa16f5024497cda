"""The built-in test gateway end to end with the Django test client."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from clarion.actions.models import ActionPage
from clarion.donations import services
from clarion.donations.gateways.testgateway import checkout_token
from clarion.donations.models import Donation, RecurringPlan
from clarion.donations.selectors import page_totals
from clarion.people.models import Activity, Person


def _start(page, person, amount=1250, recurring=False):
    return services.donation_start(
        page=page,
        person=person,
        amount_pence=amount,
        currency="GBP",
        recurring=recurring,
        attribution={"source": "test"},
    )


def test_donor_gives_through_the_public_page_and_the_test_checkout(client, donation_page, areas):
    """The whole path a supporter takes: the action page's form, the test checkout,
    Pay, the thank-you page; the gift counts and is on their timeline."""
    response = client.post(
        reverse("actions:page", kwargs={"slug": donation_page.slug}) + "?source=tw",
        {
            "amount": "other",
            "other_amount": "12.50",
            "frequency": "once",
            "first_name": "Dana",
            "last_name": "Donor",
            "email": "dana@example.net",
            "postcode": areas.postcodes["north"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    checkout_url = response["Location"]
    assert checkout_url.startswith("/donate/test-checkout/")

    page = client.get(checkout_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "£12.50" in html and "Fund the fight" in html and "Decline" in html

    paid = client.post(checkout_url, {"decision": "pay"})
    assert paid.status_code == 302
    thanks = reverse("actions:thanks", kwargs={"slug": donation_page.slug})
    assert paid["Location"].startswith(thanks + "?g=")
    shown = client.get(paid["Location"])
    assert shown.status_code == 200
    # The thank-you page confirms the gift and where the receipt goes, masked.
    text = shown.content.decode()
    assert "Your gift of <strong>£12.50</strong> has been received." in text
    assert "d•••@example.net" in text and "dana@example.net" not in text

    donor = Person.objects.get(email="dana@example.net")
    donation = Donation.objects.get()
    assert (donation.person, donation.status, donation.amount_pence) == (donor, "succeeded", 1250)
    assert page_totals(donation_page) == {"count": 1, "amount_pence": 1250}
    assert Activity.objects.filter(
        person=donor, kind="donation", summary="Donated £12.50 on Fund the fight"
    ).exists()

    # The spent link cannot be paid again.
    again = client.post(checkout_url, {"decision": "pay"})
    assert again.status_code == 409
    assert "already succeeded" in again.content.decode()
    assert page_totals(donation_page)["count"] == 1


def test_decline_marks_the_donation_failed_and_offers_a_retry(client, donation_page, north_person):
    start = _start(donation_page, north_person)
    response = client.post(start.redirect_url, {"decision": "decline"})
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "declined" in html and reverse("actions:page", kwargs={"slug": donation_page.slug}) in html
    )
    start.donation.refresh_from_db()
    assert start.donation.status == "failed"
    assert page_totals(donation_page)["count"] == 0


def test_forged_or_tampered_tokens_are_refused(client, donation_page, north_person):
    start = _start(donation_page, north_person)
    other = _start(donation_page, north_person, amount=5000)
    token = start.redirect_url.rstrip("/").rsplit("/", 1)[1]
    # A token for donation A with its id swapped for B's does not verify.
    forged = (
        "/donate/test-checkout/"
        + token[:-3]
        + ("AAA" if not token.endswith("AAA") else "BBB")
        + "/"
    )
    assert client.post(forged, {"decision": "pay"}).status_code == 404
    # A token signed for another amount does not match the donation.
    wrong_amount = reverse(
        "donations:test_checkout", kwargs={"token": checkout_token(other.donation.pk, 100)}
    )
    response = client.post(wrong_amount, {"decision": "pay"})
    assert response.status_code == 404
    assert "not valid or has expired" in response.content.decode()
    assert client.get("/donate/test-checkout/garbage/").status_code == 404
    assert set(Donation.objects.values_list("status", flat=True)) == {"pending"}


def test_a_stripe_donation_cannot_be_paid_on_the_test_checkout(client, donation_page, north_person):
    donation = _start(donation_page, north_person).donation
    Donation.objects.filter(pk=donation.pk).update(gateway="stripe")
    url = reverse(
        "donations:test_checkout",
        kwargs={"token": checkout_token(donation.pk, donation.amount_pence)},
    )
    assert client.post(url, {"decision": "pay"}).status_code == 404


@pytest.mark.parametrize("decision", ["", "PAY", "<script>alert(1)</script>", "x" * 5000])
def test_a_bad_decision_is_a_clear_400(client, donation_page, north_person, decision):
    start = _start(donation_page, north_person)
    response = client.post(start.redirect_url, {"decision": decision})
    assert response.status_code == 400
    assert "Choose Pay or Decline." in response.content.decode()
    assert "<script>alert" not in response.content.decode()


def test_checkout_needs_csrf(donation_page, north_person):
    from django.test import Client

    start = _start(donation_page, north_person)
    assert (
        Client(enforce_csrf_checks=True).post(start.redirect_url, {"decision": "pay"}).status_code
        == 403
    )


def test_monthly_gift_through_the_test_checkout_creates_a_plan(client, donation_page, north_person):
    start = _start(donation_page, north_person, amount=800, recurring=True)
    html = client.get(start.redirect_url).content.decode()
    assert "£8.00 every month" in html
    client.post(start.redirect_url, {"decision": "pay"})
    plan = RecurringPlan.objects.get()
    assert (plan.status, plan.amount_pence, plan.gateway) == ("active", 800, "test")
    assert Activity.objects.filter(
        person=north_person, summary="Started a monthly donation of £8.00 on Fund the fight"
    ).exists()


def test_leaving_the_checkout_marks_the_donation_cancelled(client, donation_page, north_person):
    donation = _start(donation_page, north_person).donation
    url = reverse(
        "donations:checkout_cancelled", kwargs={"token": services._cancel_token(donation)}
    )
    response = client.get(url)
    assert response.status_code == 200 and "not completed" in response.content.decode()
    donation.refresh_from_db()
    assert donation.status == "cancelled"
    assert client.get("/donate/cancelled/nonsense/").status_code == 404
    assert re.search(r"Go back and donate", response.content.decode())


def _form(areas, **extra):
    data = {
        "amount": "other",
        "other_amount": "12.50",
        "frequency": "once",
        "first_name": "Dana",
        "last_name": "Donor",
        "email": "dana@example.net",
        "postcode": areas.postcodes["north"],
    }
    data.update(extra)
    return data


def test_an_amount_over_the_online_limit_is_a_form_error_not_a_crash(client, donation_page, areas):
    url = reverse("actions:page", kwargs={"slug": donation_page.slug})
    response = client.post(url, _form(areas, other_amount="20000.00"))
    assert response.status_code == 400
    assert "The largest donation we can take online is £10,000.00" in response.content.decode()
    assert not Donation.objects.exists()


def test_an_unreachable_gateway_is_explained_to_the_donor(
    client, donation_page, areas, stripe_settings, fake_stripe
):
    fake_stripe.fail_with = (503, {"error": {"message": "down"}})
    url = reverse("actions:page", kwargs={"slug": donation_page.slug})
    response = client.post(url, _form(areas))
    assert response.status_code == 400
    assert "Please try again" in response.content.decode()
    # The attempt is on record (invariant 1), marked failed.
    assert Donation.objects.get().status == "failed"


def test_the_form_opens_with_an_amount_chosen_and_a_typed_amount_wins(client, donation_page, areas):
    url = reverse("actions:page", kwargs={"slug": donation_page.slug})
    html = client.get(url).content.decode()
    # suggested [500, 1000, 2500]: £10 (the second) is chosen, "once" too.
    assert re.search(r'<input[^>]*value="1000"[^>]*checked', html)
    assert re.search(r'<input[^>]*value="once"[^>]*checked', html)
    # A typed amount replaces the chosen button...
    response = client.post(url, _form(areas, amount="1000", other_amount="7.25"))
    assert response.status_code == 302
    assert Donation.objects.get().amount_pence == 725
    # ...and without one, the button counts.
    Donation.objects.all().delete()
    client.post(url, _form(areas, amount="2500", other_amount="  "))
    assert Donation.objects.get().amount_pence == 2500
    # "Other amount" with nothing typed, or a made-up button value, is a form error.
    for data in (_form(areas, amount="other", other_amount=""), _form(areas, amount="777")):
        response = client.post(url, data)
        assert response.status_code == 400
        assert "Please correct the highlighted fields." in response.content.decode()
    assert Donation.objects.count() == 1


@pytest.mark.parametrize(
    ("status", "recurring", "says"),
    [
        ("succeeded", False, "Your gift of <strong>£8.00</strong> has been received."),
        ("succeeded", True, "Your gift of <strong>£8.00 a month</strong> is set up."),
        ("pending", False, "is being confirmed by the payment provider"),
        ("failed", False, "did not go through, and nothing was taken."),
        ("cancelled", True, "did not go through, and nothing was taken."),
    ],
)
def test_the_thank_you_page_confirms_what_happened_to_the_gift(
    client, donation_page, north_person, status, recurring, says
):
    donation = _start(donation_page, north_person, amount=800, recurring=recurring).donation
    Donation.objects.filter(pk=donation.pk).update(status=status)
    html = client.get(services.gift_thanks_url(donation)).content.decode()
    assert says in html
    assert north_person.email not in html
    if status == "succeeded":
        assert "A receipt is on its way to" in html
    else:
        assert "A receipt is on its way to" not in html


def test_a_gift_token_confirms_nothing_on_another_page_or_when_tampered(
    client, donation_page, north_person
):
    donation = _start(donation_page, north_person, amount=800).donation
    url = services.gift_thanks_url(donation)
    other = ActionPage.objects.create(
        kind=ActionPage.Kind.DONATION, slug="other-fund", title="Other", status="live"
    )
    moved = url.replace(donation_page.slug, other.slug)
    for bad in (moved, url[:-3] + "abc", url.split("?")[0] + "?g=", url.split("?")[0] + "?g=%00"):
        response = client.get(bad)
        assert response.status_code == 200
        assert "Your gift of" not in response.content.decode()
