"""Reading an amount of money a person typed: one parser for every form and API field.

``parse_money`` takes the text of a donation form, a staff form or an API field and
answers a ``Decimal`` with two places, or raises ``MoneyError`` whose text can be shown
to the person as it is. It accepts one notation only: digits 0-9, commas strictly
between groups of three, a full stop before at most two decimals (``1,250.50``), and
the currency's own symbol or code before or after. Anything a reader from another
locale could take another way (``10,00``, ``1.000,50``, ``10.001``) is refused with a
message rather than guessed at, so an "other amount" of ``10,00`` can never become a
thousand pounds.

It lives in ``core`` because both the action pages (the public donate form, the staff
page form) and the donations app read amounts, and donations already depends on
actions.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
# Marks a person may write beside the number, per currency (the ISO code is always
# accepted too). Dollar currencies share "$", which is unambiguous on a page that
# takes only one currency.
_MARKS = {
    "GBP": ("£",),
    "EUR": ("€",),
    "USD": ("US$", "$"),
    "CAD": ("CA$", "C$", "$"),
    "AUD": ("AU$", "A$", "$"),
    "NZD": ("NZ$", "$"),
    "CHF": ("Fr.",),
    "SEK": ("kr",),
    "NOK": ("kr",),
    "DKK": ("kr.", "kr"),
}
# Money marks of any currency, to tell "$10" on a pound page from a typing slip.
_ANY_MARK = re.compile(
    r"[£€$¥₹₩₽₺₪฿¢]|\b(?:GBP|EUR|USD|CAD|AUD|NZD|CHF|SEK|NOK|DKK|JPY|INR|kr)\b", re.IGNORECASE
)
# Longer than any amount anyone types; refused before any other work is done.
MAX_TEXT = 40
# Whole units above this many digits are refused whatever the caller's maximum.
MAX_UNIT_DIGITS = 12

_GROUPED = r"[1-9][0-9]{0,2}(?:,[0-9]{3})+"
_AMOUNT = re.compile(rf"(?P<units>{_GROUPED}|[0-9]+)(?:\.(?P<decimals>[0-9]{{1,2}}))?")
# Shapes that show a decimal comma or a full stop between thousands: "10,00",
# "10,5", "1.000,50", "1.000.000".
_COMMA_DECIMAL = re.compile(r"[0-9]*(?:[.,][0-9]+)*,[0-9]{1,2}|[0-9]+(?:\.[0-9]{3}){2,}")


class MoneyError(ValueError):
    """The text is not an amount we can read without guessing. ``str(error)`` is a
    translated message fit to show the person who typed it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def max_pence() -> int:
    """The largest donation taken online, in pence (``CLARION_DONATION_MAX_PENCE``)."""
    return int(getattr(settings, "CLARION_DONATION_MAX_PENCE", 1_000_000))


def format_money(pence: int, currency: str = "GBP") -> str:
    """``1250, "GBP"`` → ``"£12.50"``; other currencies as ``"12.50 SEK"``."""
    pence = int(pence)
    sign = "-" if pence < 0 else ""
    units, minor = divmod(abs(pence), 100)
    number = f"{units:,}.{minor:02d}"
    symbol = SYMBOLS.get(currency.upper())
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency.upper()}"


def plain_amount(pence: int) -> str:
    """``125000`` → ``"1250"``, ``1250`` → ``"12.50"``: an amount as text that
    ``parse_money`` reads back, without thousands commas (for lists split on commas)."""
    units, minor = divmod(int(pence), 100)
    return f"{units}" if not minor else f"{units}.{minor:02d}"


def to_pence(amount: Decimal) -> int:
    """A two-place ``Decimal`` from ``parse_money`` as integer pence."""
    return int(amount.scaleb(2).to_integral_value())


def _strip_mark(text: str, currency: str) -> str:
    marks = sorted((*_MARKS.get(currency, ()), currency), key=len, reverse=True)
    for mark in marks:
        if text[: len(mark)].upper() == mark.upper():
            return text[len(mark) :].strip()
        if text[-len(mark) :].upper() == mark.upper():
            return text[: -len(mark)].strip()
    return text


def parse_money(text: str, *, currency: str = "GBP", maximum_pence: int | None = None) -> Decimal:
    """The amount in ``text`` as a ``Decimal`` with two places, more than zero and at
    most ``maximum_pence`` (by default the largest donation taken online).

    Raises ``MoneyError`` for anything else, including text that could be read two
    ways. Digits other than 0-9 (Arabic-Indic, fullwidth) are refused rather than
    converted, so what is stored is exactly what the person could see they typed.
    """
    if not isinstance(text, str):
        raise MoneyError(_("Enter the amount as text, like 12.50."))
    currency = (currency or "GBP").upper()
    if len(text) > MAX_TEXT:
        raise MoneyError(_("Enter an amount like 12.50."))
    text = text.strip()
    if not text:
        raise MoneyError(_("Enter an amount."))
    number = _strip_mark(text, currency)
    if any(unicodedata.category(ch) == "Nd" and not "0" <= ch <= "9" for ch in number):
        raise MoneyError(_("Type the amount with the digits 0 to 9."))
    if number[:1] in ("-", "\u2212", "(") or number.endswith("-"):
        raise MoneyError(_("Enter an amount above zero."))
    match = _AMOUNT.fullmatch(number)
    if match is None:
        if _ANY_MARK.search(number):
            raise MoneyError(
                _("Enter the amount in %(currency)s, like 12.50.") % {"currency": currency}
            )
        if _COMMA_DECIMAL.fullmatch(number):
            raise MoneyError(
                _(
                    "Use a full stop before the decimals, like 10.50, and commas only "
                    "between thousands, like 1,000."
                )
            )
        if re.fullmatch(r"[0-9,]*\.[0-9]{3,}", number):
            raise MoneyError(_("Give at most two decimal places, like 10.50."))
        raise MoneyError(_("Enter an amount like 12.50 or 1,250.00."))
    units = match.group("units").replace(",", "").lstrip("0") or "0"
    if len(units) > MAX_UNIT_DIGITS:
        raise MoneyError(_("That amount is too large."))
    amount = Decimal(f"{units}.{(match.group('decimals') or '').ljust(2, '0')}")
    if amount <= 0:
        raise MoneyError(_("The amount must be more than nothing."))
    limit = max_pence() if maximum_pence is None else maximum_pence
    if to_pence(amount) > limit:
        raise MoneyError(
            _(
                "The largest donation we can take online is %(amount)s; please contact us "
                "about a larger gift."
            )
            % {"amount": format_money(limit, currency)}
        )
    return amount


class MoneyField(forms.CharField):
    """A form field for an amount a person types, read by ``parse_money``; its cleaned
    value is a two-place ``Decimal`` (``None`` when left blank and not required)."""

    def __init__(self, *, currency: str = "GBP", maximum_pence: int | None = None, **kwargs):
        # No max_length: its validator would run on the Decimal; parse_money caps the
        # length itself.
        super().__init__(**kwargs)
        self.currency = currency
        self.maximum_pence = maximum_pence
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("maxlength", str(MAX_TEXT))

    def to_python(self, value):
        if isinstance(value, Decimal):
            value = str(value)
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_money(value, currency=self.currency, maximum_pence=self.maximum_pence)
        except MoneyError as exc:
            raise ValidationError(exc.message, code="money") from None
