"""One reading of every amount a person types: what parse_money accepts and refuses,
and that the donate form, the staff page form, the "donated" segment and the
donations API all use it, so "10,00" is an error everywhere and never £1,000."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from clarion.actions.models import ActionPage
from clarion.api.tests.conftest import make_api
from clarion.core.money import MoneyError, parse_money, to_pence
from clarion.donations.models import Donation
from clarion.people.models import Person

ACCEPTED = [
    ("10", "10.00"),
    ("10.00", "10.00"),
    ("10.5", "10.50"),
    ("0.99", "0.99"),
    ("£10", "10.00"),
    ("£ 10.00", "10.00"),
    ("10£", "10.00"),
    ("10 GBP", "10.00"),
    ("gbp 7.25", "7.25"),
    ("1,000", "1000.00"),
    ("1,000.50", "1000.50"),
    ("  £2,500.05  ", "2500.05"),
    ("\u00a0£25\u00a0", "25.00"),  # no-break spaces pasted from a web page
    ("007", "7.00"),
]

REFUSED = [
    # A decimal comma: the supporter from Berlin or Paris means ten, not a thousand.
    ("10,00", "full stop"),
    ("10,5", "full stop"),
    ("1.000,50", "full stop"),
    ("1.000.000", "full stop"),
    (",5", "full stop"),
    # Commas that do not separate thousands.
    ("1,00,0", "full stop"),
    ("1,0000", "like 12.50"),
    ("1,,000", "like 12.50"),
    ("1,000,00", "full stop"),
    # Three decimals: a thousands full stop, or a typo; either way not pence.
    ("10.001", "two decimal places"),
    ("1.000", "two decimal places"),
    ("0.001", "two decimal places"),
    # Signs, zero and nothing.
    ("-10", "above zero"),
    ("-£10", "above zero"),
    ("£-10", "above zero"),
    ("\u221210", "above zero"),  # a mathematical minus sign
    ("(10)", "above zero"),
    ("+10", "like 12.50"),
    ("0", "more than nothing"),
    ("0.00", "more than nothing"),
    ("", "Enter an amount"),
    ("   ", "Enter an amount"),
    # What Decimal() and float() would happily read.
    ("NaN", "like 12.50"),
    ("Infinity", "like 12.50"),
    ("inf", "like 12.50"),
    ("1e3", "like 12.50"),
    ("1E+3", "like 12.50"),
    ("1_000", "like 12.50"),
    ("0x10", "like 12.50"),
    (".5", "like 12.50"),
    ("10.", "like 12.50"),
    ("1 000", "like 12.50"),
    ("1'000", "like 12.50"),
    # Digits from other scripts look like numbers but are not what we store.
    ("\u0661\u0660", "digits 0 to 9"),  # Arabic-Indic ten
    ("\uff11\uff10", "digits 0 to 9"),  # fullwidth ten
    ("\u0967\u0966", "digits 0 to 9"),  # Devanagari ten
    # Another currency on a pound page.
    ("$10", "in GBP"),
    ("€10", "in GBP"),
    ("10 EUR", "in GBP"),
    ("££10", "in GBP"),
    # Text, control characters and sheer length.
    ("ten pounds", "like 12.50"),
    ("10p", "like 12.50"),
    ("10\x00", "like 12.50"),
    ("1" * 41, "like 12.50"),
    ("9" * 13, "too large"),
    # Above the largest donation taken online (£10,000 by default).
    ("10,000.01", "largest donation"),
    ("12,345,678.90", "largest donation"),
]


@pytest.mark.parametrize(("text", "amount"), ACCEPTED)
def test_amounts_written_one_clear_way_are_read(text, amount):
    assert parse_money(text) == Decimal(amount)


@pytest.mark.parametrize(("text", "words"), REFUSED)
def test_ambiguous_or_impossible_amounts_are_refused_with_a_message(text, words):
    with pytest.raises(MoneyError) as raised:
        parse_money(text)
    assert words in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_large_amounts_are_read_exactly_when_the_caller_allows_them():
    amount = parse_money("12,345,678.90", maximum_pence=10**12)
    assert amount == Decimal("12345678.90") and to_pence(amount) == 1_234_567_890


def test_the_maximum_is_the_configured_one(settings):
    settings.CLARION_DONATION_MAX_PENCE = 50_000
    assert parse_money("500") == Decimal("500.00")
    with pytest.raises(MoneyError, match="£500.00"):
        parse_money("500.01")


def test_the_page_currency_decides_which_symbol_is_accepted():
    assert parse_money("€12.50", currency="EUR") == Decimal("12.50")
    assert parse_money("12.50 eur", currency="EUR") == Decimal("12.50")
    assert parse_money("$5", currency="CAD") == Decimal("5.00")
    assert parse_money("100 kr", currency="SEK") == Decimal("100.00")
    with pytest.raises(MoneyError, match="in EUR"):
        parse_money("£12.50", currency="EUR")


def test_non_text_is_refused():
    with pytest.raises(MoneyError):
        parse_money(12.5)  # type: ignore[arg-type]


# --- The public donate form ---------------------------------------------------------


def _donate(client, page, areas, other_amount, email="dana@example.net"):
    return client.post(
        reverse("actions:page", kwargs={"slug": page.slug}),
        {
            "amount": "other",
            "other_amount": other_amount,
            "frequency": "once",
            "first_name": "Dana",
            "last_name": "Donor",
            "email": email,
            "postcode": areas.postcodes["north"],
        },
    )


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("10,00", "Use a full stop before the decimals"),
        ("1.000,50", "Use a full stop before the decimals"),
        ("10.001", "at most two decimal places"),
        ("\u0661\u0660", "digits 0 to 9"),
        ("1e3", "Enter an amount like 12.50"),
        ("-5", "above zero"),
        ("$20", "in GBP"),
    ],
)
def test_the_donate_form_shows_an_error_and_writes_nothing(
    client, donation_page, areas, typed, words
):
    response = _donate(client, donation_page, areas, typed)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Donation.objects.exists()
    assert not Person.objects.filter(email="dana@example.net").exists()


def test_the_donate_form_takes_a_thousands_comma_as_a_thousand(client, donation_page, areas):
    response = _donate(client, donation_page, areas, "£1,000.50")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Donation.objects.get().amount_pence == 100_050


def test_a_euro_page_takes_euros_and_refuses_pounds(client, donation_page, areas):
    donation_page.currency = "EUR"
    donation_page.save(update_fields=["currency"])
    refused = _donate(client, donation_page, areas, "£12")
    assert refused.status_code == 400 and "in EUR" in refused.content.decode()
    assert _donate(client, donation_page, areas, "12,50 €").status_code == 400
    assert not Donation.objects.exists()
    assert _donate(client, donation_page, areas, "€12.50").status_code == 302
    assert Donation.objects.get().amount_pence == 1250


# --- The staff page form -------------------------------------------------------------

PAGE = {
    "kind": "donation",
    "title": "Winter appeal",
    "slug": "winter-appeal",
    "status": "draft",
    "summary": "Keep the office warm.",
    "body": "Please give.",
    "consent_wording": "Email me",
    "next_step": "share",
    "currency": "GBP",
}


@pytest.mark.parametrize(
    ("typed", "pence"),
    [
        ("5, 10, 25", [500, 1000, 2500]),
        ("£5; £12.50; 1000", [500, 1250, 100_000]),
        ("5\n10\n2500", [500, 1000, 250_000]),
    ],
)
def test_staff_suggested_amounts_are_read_one_clear_way(admin_client, typed, pence):
    response = admin_client.post(reverse("actions_staff:create"), {**PAGE, "amounts_text": typed})
    assert response.status_code == 302, response.content.decode()[:3000]
    page = ActionPage.objects.get(slug="winter-appeal")
    assert page.suggested_amounts == pence
    # The edit form shows them back in a form it reads the same way.
    edit = admin_client.get(reverse("actions_staff:edit", kwargs={"pk": page.pk})).content.decode()
    shown = ", ".join(str(p // 100) if p % 100 == 0 else f"{p / 100:.2f}" for p in pence)
    assert f'value="{shown}"' in edit


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("5,10,25", "one amount or several"),
        ("5,100", "one amount or several"),
        ("5, 10,00", "one amount or several"),
        ("5, 1.000,50", "one amount or several"),
        ("5, 10.001", "two decimal places"),
        ("5, -10", "above zero"),
        ("5, NaN", "like 12.50"),
        ("5, \uff11\uff10", "digits 0 to 9"),
        ("5, 20000", "largest donation"),
    ],
)
def test_staff_suggested_amounts_that_could_be_misread_are_refused(admin_client, typed, words):
    response = admin_client.post(reverse("actions_staff:create"), {**PAGE, "amounts_text": typed})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not ActionPage.objects.exists()


# --- The "donated" segment condition ---------------------------------------------------


def test_the_donated_segment_refuses_a_decimal_comma(admin):
    from django.core.exceptions import ValidationError

    from clarion.people.segments.selectors import segment_people

    for typed in ("10,00", "1e3", "\u0661\u0660"):
        with pytest.raises(ValidationError):
            segment_people(
                admin, {"op": "all", "conditions": [{"type": "donated", "amount": typed}]}
            )
    found = segment_people(
        admin, {"op": "all", "conditions": [{"type": "donated", "amount": "£1,000"}]}
    )
    assert not found.exists()


# --- The donations API ---------------------------------------------------------------


@pytest.fixture
def admin_api(client, admin):
    return make_api(client, admin)


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("amount", {"amount": "10,00"}),
        ("amount", {"amount": "1.000,50"}),
        ("amount", {"amount": "NaN"}),
        ("amount", {"amount": "1e3"}),
        ("amount", {"amount": "\u0661\u0660"}),
        ("amount", {"amount": -5}),
        ("amount", {"amount": 10.5}),
        ("amount", {"amount": True}),
        ("recipients.amount", {"recipients": [{"display_name": "Us", "amount": "10,00"}]}),
    ],
)
def test_the_api_answers_400_naming_the_field_and_records_nothing(
    admin_api, donation_page, field, payload
):
    response = admin_api.post(
        f"fundraising_pages/{donation_page.pk}/donations",
        {"person": {"email_addresses": [{"address": "gil@example.net"}]}, **payload},
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"].startswith(field) and field in body["errors"]
    assert not Donation.objects.exists() and not Person.objects.exists()


def test_the_api_reads_a_thousands_comma_and_a_whole_number(admin_api, donation_page):
    for amount, pence in (("1,000.50", 100_050), (25, 2500), ("£7", 700)):
        response = admin_api.post(
            f"fundraising_pages/{donation_page.pk}/donations",
            {"person": {"email_addresses": [{"address": "gil@example.net"}]}, "amount": amount},
        )
        assert response.status_code == 201, response.content
        assert response.json()["amount"] == f"{pence // 100}.{pence % 100:02d}"
