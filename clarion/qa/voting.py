"""Who may vote: confirmed supporters.

A *confirmed supporter* is a person who proved they read the mailbox of their email
address: they asked for a link on the audience page, we emailed it
(``tasks.qa_confirm_send``), and they opened it. Opening it sets a signed cookie,
``clarion_qa_supporter``, holding their person id (signed with the secret key, so it
cannot be forged or edited; valid for 90 days). Votes are counted per person (a
unique constraint), so clearing cookies or using another browser adds nothing; each
extra vote needs another real mailbox, and the confirmation form and the votes are
rate-limited per address and per person.

The same cookie lets a supporter ask in sessions limited to confirmed supporters or
members.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from clarion.core import tokens

COOKIE = "clarion_qa_supporter"
COOKIE_SALT = tokens.QA_SUPPORTER_COOKIE
COOKIE_AGE = 90 * 24 * 3600
LINK_AGE = 2 * 24 * 3600


def supporter_id(request: HttpRequest) -> int | None:
    value = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT, max_age=COOKIE_AGE)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def supporter_set(response: HttpResponse, *, person_id: int, secure: bool) -> None:
    response.set_signed_cookie(
        COOKIE,
        str(person_id),
        salt=COOKIE_SALT,
        max_age=COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def confirm_token(*, person_id: int, slug: str) -> str:
    return tokens.sign({"p": person_id, "s": slug}, salt=tokens.QA_CONFIRM, compress=True)


def confirm_token_read(token: str) -> tuple[int, str] | None:
    data = tokens.unsign(token, salt=tokens.QA_CONFIRM, max_age=LINK_AGE)
    try:
        return int(data["p"]), str(data["s"])
    except (KeyError, TypeError, ValueError):
        return None
