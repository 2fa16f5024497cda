"""Signed tokens: the links we email or hand out, and every salt they are signed with.

A token is ``django.core.signing`` output: the value, a timestamp and an HMAC keyed
with the secret key and the token's salt. The salt keeps one kind of link from being
replayed as another. Each salt's value is part of every link already sent, so it must
never change, and two kinds of link must never share one; they are all named here.

``unsign`` answers None for anything that does not verify — a forged, tampered,
truncated or expired token, or one longer than any this project makes — so callers
need no try/except and a stranger's input never reaches the decoder at length.
"""

from __future__ import annotations

from typing import Any

from django.core import signing

# Salts of ``sign``/``unsign`` tokens.
MAILING_LINK = "clarion.mailing-link"  # ?mt=: the mailing that brought a supporter
ACTIONS_CONFIRM = "clarion.actions.confirm"
ACTIONS_THANKS = "clarion.actions.thanks"
EVENTS_RSVP_MANAGE = "clarion.events.rsvp-manage"
EVENTS_HOST = "clarion.events.host"
QA_CONFIRM = "clarion.qa.confirm"
PEOPLE_PROPOSED_CHANGE = "clarion.people.proposed-change"
DONATIONS_CANCEL = "clarion.donations.cancel"
DONATIONS_THANKS = "clarion.donations.thanks"  # ?g=: the gift a thank-you page confirms
DONATIONS_TEST_CHECKOUT = "clarion.donations.test-checkout"
MEMBERS_CARD = "clarion.members.card"  # the membership card's QR code
# Salt of ``stamp``/``unstamp`` tokens (a plain string and a timestamp).
ACTIONS_EMBED_FORM = "clarion.actions.embed-form"
# Salt of the Q&A supporter cookie (``HttpResponse.set_signed_cookie``).
QA_SUPPORTER_COOKIE = "clarion.qa.supporter"
# Salts of the short ``salted_hmac`` tags in bulk mail (``mailings.sending.tokens``).
MAILINGS_RECIPIENT = "clarion.mailings.recipient"
MAILINGS_VERP = "clarion.mailings.verp"

# Longer than any token signed here (the longest are a few dozen characters).
MAX_LENGTH = 500


def sign(value: Any, *, salt: str, compress: bool = False) -> str:
    """A URL-safe token for ``value`` (anything JSON can hold)."""
    return signing.dumps(value, salt=salt, compress=compress)


def unsign(token: str | None, *, salt: str, max_age: int | None = None) -> Any | None:
    """The value ``token`` was signed with under ``salt``, or None if it does not
    verify or is older than ``max_age`` seconds."""
    if not token or not isinstance(token, str) or len(token) > MAX_LENGTH:
        return None
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:
        return None


def stamp(value: str, *, salt: str) -> str:
    """``value:timestamp:signature`` — readable, for values that are already strings."""
    return signing.TimestampSigner(salt=salt).sign(value)


def unstamp(token: str | None, *, salt: str, max_age: int | None = None) -> str | None:
    """The string ``token`` stamps, or None if it does not verify or is too old."""
    if not token or not isinstance(token, str) or len(token) > MAX_LENGTH:
        return None
    try:
        return signing.TimestampSigner(salt=salt).unsign(token, max_age=max_age)
    except signing.BadSignature:
        return None
