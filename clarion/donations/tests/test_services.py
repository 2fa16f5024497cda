"""donation_start, state changes, totals, permissibility and the timeline."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.core.exceptions import ValidationError

from clarion.actions.models import ActionPage
from clarion.donations import services
from clarion.donations.models import Donation, RecurringPlan
from clarion.donations.money import format_money
from clarion.donations.selectors import page_recurring, page_totals
from clarion.people.models import Activity


def _start(page, person, amount=1250, **kw):
    kw.setdefault("currency", "GBP")
    kw.setdefault("recurring", False)
    kw.setdefault("attribution", {})
    return services.donation_start(page=page, person=person, amount_pence=amount, **kw)


def test_money_is_shown_in_pounds_and_pence():
    assert format_money(1250) == "£12.50"
    assert format_money(100000, "GBP") == "£1,000.00"
    assert format_money(5, "EUR") == "€0.05"
    assert format_money(999, "SEK") == "9.99 SEK"


def test_start_records_a_pending_donation_with_its_attribution(
    donation_page, north_person, south_person
):
    start = _start(
        donation_page,
        north_person,
        2500,
        attribution={
            "source": "email-june",
            "referrer": "https://news.example/story",
            "utm": {"utm_source": "newsletter", "utm_campaign": "june", "evil": "x"},
            "mailing_token": "tok123",
            "recruiter_id": south_person.pk,
        },
    )
    donation = Donation.objects.get()
    assert start.donation == donation
    assert start.redirect_url.startswith("/donate/test-checkout/")
    assert (donation.status, donation.amount_pence, donation.currency, donation.gateway) == (
        "pending",
        2500,
        "GBP",
        "test",
    )
    assert donation.source == "email-june" and donation.referrer == "https://news.example/story"
    assert donation.utm == {"utm_source": "newsletter", "utm_campaign": "june"}
    assert donation.mailing_token == "tok123" and donation.recruiter == south_person
    assert page_totals(donation_page) == {"count": 0, "amount_pence": 0}


@pytest.mark.parametrize(
    "amount, message",
    [
        (0, "smallest"),
        (-500, "smallest"),
        (99, "smallest"),
        (12.5, "whole number"),
        ("1250", "whole number"),
        (True, "whole number"),
        (None, "whole number"),
        (10**12, "largest"),
    ],
)
def test_bad_amounts_are_refused_with_a_clear_message(donation_page, north_person, amount, message):
    with pytest.raises(ValidationError) as exc:
        _start(donation_page, north_person, amount)
    assert message in " ".join(exc.value.message_dict["amount"])
    assert not Donation.objects.exists()


@pytest.mark.parametrize("currency", ["XYZ", "JPY", "pounds", 826])
def test_unsupported_currencies_are_refused(donation_page, north_person, currency):
    with pytest.raises(ValidationError) as exc:
        _start(donation_page, north_person, currency=currency)
    assert "currency" in exc.value.message_dict


def test_currency_defaults_to_gbp_and_is_upper_cased(donation_page, north_person):
    assert _start(donation_page, north_person, currency="").donation.currency == "GBP"
    assert _start(donation_page, north_person, currency="eur").donation.currency == "EUR"


def test_only_donation_pages_take_donations(donation_page, north_person):
    donation_page.kind = "petition"
    donation_page.save()
    with pytest.raises(ValidationError, match="does not take donations"):
        _start(donation_page, north_person)


def test_monthly_gift_refused_where_page_allows_only_one_off(donation_page, north_person):
    donation_page.allow_monthly = False
    donation_page.save()
    with pytest.raises(ValidationError) as exc:
        _start(donation_page, north_person, recurring=True)
    assert "one-off" in exc.value.message_dict["recurring"][0]


def test_success_counts_once_and_lands_on_the_timeline(donation_page, north_person):
    donation = _start(donation_page, north_person, 1250).donation
    services.donation_succeed(donation_id=donation.pk)
    services.donation_succeed(donation_id=donation.pk)  # repeated: no change
    assert page_totals(donation_page) == {"count": 1, "amount_pence": 1250}
    entries = Activity.objects.filter(person=north_person, kind=Activity.Kind.DONATION)
    assert [a.summary for a in entries] == ["Donated £12.50 on Fund the fight"]


def test_refunds_reduce_and_then_remove_the_gift_from_totals(donation_page, north_person):
    donation = _start(donation_page, north_person, 2000).donation
    services.donation_succeed(donation_id=donation.pk)
    services.donation_refund_record(donation_id=donation.pk, refunded_pence=500)
    assert page_totals(donation_page) == {"count": 1, "amount_pence": 1500}
    services.donation_refund_record(donation_id=donation.pk, refunded_pence=2000)
    services.donation_refund_record(donation_id=donation.pk, refunded_pence=2000)
    donation.refresh_from_db()
    assert donation.status == "refunded"
    assert page_totals(donation_page) == {"count": 0, "amount_pence": 0}
    summaries = list(
        Activity.objects.filter(person=north_person, kind="donation").values_list(
            "summary", flat=True
        )
    )
    assert summaries.count("Refunded £20.00 of a donation on Fund the fight") == 1


def test_a_failed_donation_never_counts(donation_page, north_person):
    donation = _start(donation_page, north_person).donation
    services.donation_fail(donation_id=donation.pk, reason="card declined")
    donation.refresh_from_db()
    assert donation.status == "failed" and donation.failure_reason == "card declined"
    assert page_totals(donation_page)["count"] == 0


def test_monthly_success_creates_a_plan_and_renewals_are_once_per_invoice(
    donation_page, north_person, admin
):
    donation = _start(donation_page, north_person, 1000, recurring=True).donation
    services.donation_succeed(donation_id=donation.pk)
    plan = RecurringPlan.objects.get()
    assert (plan.status, plan.amount_pence, plan.person) == ("active", 1000, north_person)
    assert page_recurring(donation_page) == {"count": 1, "monthly_pence": 1000}
    services.plan_renewal_record(plan=plan, invoice_id="in_1")
    services.plan_renewal_record(plan=plan, invoice_id="in_1")
    assert page_totals(donation_page) == {"count": 2, "amount_pence": 2000}
    renewal = Donation.objects.get(gateway_invoice_id="in_1")
    assert renewal.plan == plan and renewal.recurring and renewal.status == "succeeded"
    services.test_renewal_simulate(plan=plan, actor=admin)
    assert page_totals(donation_page)["count"] == 3


@pytest.mark.parametrize("amount, flagged", [(49999, False), (50000, True), (120000, True)])
def test_large_donations_are_flagged_for_a_permissibility_check(
    donation_page, north_person, amount, flagged
):
    donation = _start(donation_page, north_person, amount).donation
    services.donation_succeed(donation_id=donation.pk)
    donation.refresh_from_db()
    assert (donation.permissibility == "pending") is flagged


def test_the_gift_that_takes_the_years_total_to_the_threshold_is_flagged(
    donation_page, north_person
):
    ids = []
    for amount in (30000, 15000, 6000, 6000):
        donation = _start(donation_page, north_person, amount).donation
        services.donation_succeed(donation_id=donation.pk)
        ids.append(donation.pk)
    states = [Donation.objects.get(pk=pk).permissibility for pk in ids]
    assert states == ["not_required", "not_required", "pending", "not_required"]


def test_a_gateway_failure_marks_the_donation_failed_and_explains(
    donation_page, north_person, stripe_settings, fake_stripe
):
    fake_stripe.fail_with = (500, {"error": {"message": "boom"}})
    with pytest.raises(ValidationError) as exc:
        _start(donation_page, north_person)
    assert "Please try again" in exc.value.message_dict["__all__"][0]
    donation = Donation.objects.get()
    assert donation.status == "failed" and donation.gateway == "stripe"


def test_stripe_start_redirects_to_the_hosted_checkout(
    donation_page, north_person, stripe_settings, fake_stripe, settings
):
    start = _start(donation_page, north_person, 1500)
    assert start.redirect_url.startswith("https://checkout.stripe.com/c/pay/cs_test_")
    assert start.donation.gateway_checkout_id.startswith("cs_test_")
    form = fake_stripe.requests[0]["form"]
    # The token is signed with the time, so a second one made now may differ from the one
    # sent when the clock has ticked between: compare the address, then check the token.
    url, token = form["success_url"].split("?g=", 1)
    thanks = settings.SITE_URL + services.gift_thanks_url(start.donation)
    assert url == thanks.split("?g=", 1)[0] and token
    # Stripe returns the donor to the thank-you page naming this gift, which confirms it.
    gift = services.gift_for_thanks(unquote(token), donation_page)
    assert gift == {
        "amount": "£15.00",
        "monthly": False,
        "status": "pending",
        "email": gift["email"],
    }
    assert gift["email"].endswith("@" + north_person.email.split("@")[1])
    assert services.gift_for_thanks(unquote(token), ActionPage(pk=donation_page.pk + 1)) is None
    assert services.gift_for_thanks(unquote(token)[:-2] + "xx", donation_page) is None
    assert form["cancel_url"].startswith(settings.SITE_URL + "/donate/cancelled/")
    assert form["metadata[donation_id]"] == str(start.donation.pk)


def test_segment_condition_finds_people_who_gave_enough(
    donation_page, north_person, south_person, admin
):
    from clarion.people.segments.selectors import segment_people

    for person, amount in ((north_person, 3000), (north_person, 2500), (south_person, 4000)):
        services.donation_succeed(donation_id=_start(donation_page, person, amount).donation.pk)
    refunded = _start(donation_page, south_person, 2000).donation
    services.donation_succeed(donation_id=refunded.pk)
    services.donation_refund_record(donation_id=refunded.pk, refunded_pence=2000)
    definition = {"op": "all", "conditions": [{"type": "donated", "amount": "50.00"}]}
    assert list(segment_people(admin, definition)) == [north_person]
    definition["conditions"][0]["page"] = donation_page.pk + 1
    assert not segment_people(admin, definition).exists()
    with pytest.raises(ValidationError):
        segment_people(admin, {"op": "all", "conditions": [{"type": "donated", "amount": "-1"}]})


def test_dashboard_breaks_money_down_by_source(donation_page, north_person, south_person):
    from clarion.donations.selectors import page_money_by_source

    for person, amount, source in (
        (north_person, 1000, "email"),
        (south_person, 3000, "email"),
        (north_person, 500, "twitter"),
    ):
        donation = services.donation_start(
            page=donation_page,
            person=person,
            amount_pence=amount,
            currency="GBP",
            recurring=False,
            attribution={"source": source},
        ).donation
        services.donation_succeed(donation_id=donation.pk)
    _start(donation_page, north_person, 9900, attribution={"source": "unpaid"})
    assert page_money_by_source(donation_page) == [
        {"source": "email", "count": 2, "amount_pence": 4000},
        {"source": "twitter", "count": 1, "amount_pence": 500},
    ]
