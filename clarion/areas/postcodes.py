"""UK postcode validation and normalisation."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

# Outward code (area letters, district) and inward code (sector digit, unit letters),
# following the Royal Mail format rules.
_POSTCODE = re.compile(
    r"^(GIR ?0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPS-UW]|[A-HK-Y][0-9][ABEHMNPRV-Y])"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)


class InvalidPostcode(ValueError):
    message = _("Enter a valid UK postcode, for example SW1A 1AA.")


def normalise_postcode(value: str) -> str:
    """Return ``value`` as an upper-case postcode with one space, or raise InvalidPostcode."""
    compact = re.sub(r"\s+", "", (value or "")).upper()
    if not _POSTCODE.match(compact):
        raise InvalidPostcode(value)
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_or_none(value: str) -> str | None:
    try:
        return normalise_postcode(value)
    except InvalidPostcode:
        return None
