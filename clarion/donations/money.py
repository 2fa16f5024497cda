"""Money is integer minor units ("pence") plus an ISO 4217 code; never float.

Only currencies with two decimal places are accepted, so ``amount_pence`` always
means hundredths of the currency unit. Text a person typed is read by ``parse_money``
(``clarion.core.money``) and nothing else.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# One parser for every amount a person types lives in core (actions reads amounts too);
# re-exported here for the donations app.
from clarion.core.money import (  # noqa: F401
    SYMBOLS,
    MoneyError,
    format_money,
    max_pence,
    parse_money,
    plain_amount,
    to_pence,
)

# Two-decimal currencies Stripe settles; zero-decimal ones (JPY, KRW...) would break
# the "pence" meaning of amount_pence, so they are refused.
SUPPORTED_CURRENCIES = ("GBP", "EUR", "USD", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK")
MIN_PENCE = 100


def clean_currency(value) -> str:
    """An upper-case supported ISO code, GBP when blank; ValidationError otherwise."""
    if value is None or value == "":
        return "GBP"
    if not isinstance(value, str):
        raise ValidationError({"currency": _("Choose a currency.")})
    code = value.strip().upper()
    if code not in SUPPORTED_CURRENCIES:
        raise ValidationError(
            {"currency": _("We cannot take donations in %(code)s.") % {"code": code[:3] or "?"}}
        )
    return code


def clean_amount(value) -> int:
    """A whole number of pence between MIN_PENCE and the configured maximum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({"amount": _("Enter the amount as a whole number of pence.")})
    if value < MIN_PENCE:
        raise ValidationError(
            {
                "amount": _("The smallest donation we can take is %(min)s.")
                % {"min": format_money(MIN_PENCE)}
            }
        )
    if value > max_pence():
        raise ValidationError(
            {
                "amount": _(
                    "The largest donation we can take online is %(max)s. Please contact us to give more."
                )
                % {"max": format_money(max_pence())}
            }
        )
    return value
