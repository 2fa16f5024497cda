"""A membership card at event check-in: the card's QR code, scanned or typed into the
check-in search box (``events.checkin``), names the member.

Registered in ``MembersConfig.ready()`` (events sits below members and never imports
it). A scanner reads the code as the card's whole address
(``https://…/members/card/<token>/``); a person may type the bare token.
"""

from __future__ import annotations

import re

from clarion.people.models import Person

from .services import member_card_person

# The token after /members/card/ in an address, or the whole text when it is a bare
# token (signed tokens are URL-safe: letters, digits, ":", "-", "_").
_IN_ADDRESS = re.compile(r"/members/card/([A-Za-z0-9:_\-]+)/?(?:[?#].*)?$")
_BARE = re.compile(r"^[A-Za-z0-9:_\-]+$")


def card_token(text: str) -> str | None:
    """The card token in ``text`` (an address or the bare token), or None."""
    text = text.strip()
    match = _IN_ADDRESS.search(text)
    if match:
        return match.group(1)
    # A bare token holds the signature's ":" separator; names and emails never do.
    if ":" in text and _BARE.match(text):
        return text
    return None


def card_lookup(text: str) -> Person | None:
    """The person whose current card ``text`` carries; None for anything else, a forged
    code or a replaced card."""
    token = card_token(text)
    return member_card_person(token) if token else None
