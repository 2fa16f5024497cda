"""Signed tokens carried by bulk mail. None holds an email address.

- recipient token (``r``): ``<recipient id>.<hmac>`` — open pixel, click redirect,
  one-click unsubscribe and the preference page. Holding it proves one received the
  message, which is what RFC 8058 asks of an unsubscribe URL.
- VERP token: the local part ``bounces+<id>-<hmac>`` of the return path, lower-case hex
  because some MTAs fold local parts to lower case.
- mailing-link token (``mt``): ``core.tokens.sign`` with salt
  ``core.tokens.MAILING_LINK`` whose payload is ``"<mailing>:<variant>:<person>"``; action
  pages and donations store the verified payload as their attribution.
"""

from __future__ import annotations

import hmac

from django.utils.crypto import salted_hmac

from clarion.core import tokens

RECIPIENT_SALT = tokens.MAILINGS_RECIPIENT
VERP_SALT = tokens.MAILINGS_VERP
VERP_PREFIX = "bounces+"


def _mac(salt: str, value: str, length: int) -> str:
    return salted_hmac(salt, value, algorithm="sha256").hexdigest()[:length]


def recipient_token(recipient_id: int) -> str:
    return f"{recipient_id}.{_mac(RECIPIENT_SALT, str(recipient_id), 24)}"


def recipient_id_from_token(token: str | None) -> int | None:
    """The recipient id a token was made for, or None if it is forged or malformed."""
    if not token or len(token) > 64 or "." not in token:
        return None
    raw_id, _, mac = token.partition(".")
    if not raw_id.isdigit():
        return None
    if not hmac.compare_digest(mac, _mac(RECIPIENT_SALT, raw_id, 24)):
        return None
    return int(raw_id)


def verp_local(recipient_id: int) -> str:
    return f"{VERP_PREFIX}{recipient_id}-{_mac(VERP_SALT, str(recipient_id), 20)}"


def recipient_id_from_verp(address: str) -> int | None:
    """The recipient a bounce address names, or None unless its signature holds."""
    local = (address or "").strip().strip("<>").split("@", 1)[0].lower()
    if not local.startswith(VERP_PREFIX):
        return None
    raw_id, _, mac = local[len(VERP_PREFIX) :].partition("-")
    if not raw_id.isdigit() or not mac:
        return None
    if not hmac.compare_digest(mac, _mac(VERP_SALT, raw_id, 20)):
        return None
    return int(raw_id)


def mailing_link_payload(mailing_id: int, variant: int | None, person_id: int | None) -> str:
    return f"{mailing_id}:{variant if variant is not None else 0}:{person_id or 0}"


def mailing_link_token(mailing_id: int, variant: int | None, person_id: int | None) -> str:
    return tokens.sign(
        mailing_link_payload(mailing_id, variant, person_id), salt=tokens.MAILING_LINK
    )


def parse_payload(value: str) -> tuple[int, int, int] | None:
    parts = (value or "").split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])
