"""Normalising what people type: emails, phone numbers, names."""

from __future__ import annotations

import hashlib
import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

_SPACE = re.compile(r"\s+")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class InvalidEmail(ValueError):
    pass


class InvalidPhone(ValueError):
    pass


def normalise_email(value: str | None) -> str:
    """Trimmed, lower-case address, or raise InvalidEmail. Empty input gives ''."""
    email = _SPACE.sub("", value or "").strip().lower()
    if not email:
        return ""
    # Stray quotes and angle brackets come from copied "Name <a@b>" cells.
    email = email.strip("<>\"'")
    if len(email) > 254:
        raise InvalidEmail(value)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidEmail(value) from exc
    return email


def canonical_email(email: str) -> str:
    """The address as a mailbox is counted: Gmail ignores dots and +tags in the local part.

    Used for counting one person once; never used as the address to send to.
    """
    local, _, domain = email.lower().partition("@")
    if domain in {"gmail.com", "googlemail.com"}:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    else:
        local = local.split("+", 1)[0]
    return f"{local}@{domain}"


def email_hash(email: str) -> str:
    return hashlib.sha256(canonical_email(email).encode()).hexdigest()


def normalise_phone(value: str | None, region: str = "GB") -> str:
    """E.164 form of a phone number, or raise InvalidPhone. Empty input gives ''."""
    raw = (value or "").strip()
    if not raw:
        return ""
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(value) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_name(value: str | None, max_length: int = 100) -> str:
    return _SPACE.sub(" ", value or "").strip()[:max_length]


def looks_like_formula(value: str) -> bool:
    return bool(value) and value.startswith(FORMULA_PREFIXES)
