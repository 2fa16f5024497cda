"""The members app's part of the scope walk (clarion/core/tests/test_scope_walk.py).

The walk's organiser holds a staff session only: every member page must send them to
the members' sign-in, never show the South person's member pages, and leave the
South person's sign-in link and member session as they were."""

from __future__ import annotations

URL_KWARGS = {
    "members:sign_in_link": lambda w: [{"token": "bad-token"}, {"token": w.south_link_token}],
    # The South member's card: a North organiser scanning it must learn nothing.
    "members:card_check": lambda w: [{"token": "bad-token"}, {"token": w.south_card_token}],
}

# The members' pages are the public's (a member signs in by email link, not as staff).
PUBLIC_NAMESPACES = ("members",)


def extend_world(w) -> None:
    from clarion.members.services import (
        member_card_get_or_create,
        member_card_token,
        member_session_start,
        secret_hash,
        signin_link_create,
    )
    from clarion.people.models import Person

    w.south_link_token = signin_link_create(person=w.south, browser_hash=secret_hash("south"))
    w.south_member_key = member_session_start(person=w.south)
    Person.objects.filter(pk=w.south.pk).update(
        membership_status="active", membership_number="S-SOUTHWORTHINGTON"
    )
    w.south.refresh_from_db()
    w.south_card_token = member_card_token(member_card_get_or_create(person=w.south))


def snapshot(person_id: int) -> dict:
    from clarion.members.models import MemberSession, SignInLink

    return {
        "links": list(
            SignInLink.objects.filter(person_id=person_id)
            .order_by("pk")
            .values_list("pk", "used_at")
        ),
        "sessions": list(
            MemberSession.objects.filter(person_id=person_id)
            .order_by("pk")
            .values_list("pk", "expires_at")
        ),
    }
