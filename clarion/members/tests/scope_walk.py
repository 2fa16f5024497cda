"""The members app's part of the scope walk (clarion/core/tests/test_scope_walk.py).

The walk's organiser holds a staff session only: every member page must send them to
the members' sign-in, never show the South person's member pages, and leave the
South person's sign-in link, member session and passkey as they were."""

from __future__ import annotations

from django.utils import timezone

URL_KWARGS = {
    "members:sign_in_link": lambda w: [{"token": "bad-token"}, {"token": w.south_link_token}],
    # The South member's card: a North organiser scanning it must learn nothing.
    "members:card_check": lambda w: [{"token": "bad-token"}, {"token": w.south_card_token}],
    # Staff membership pages: the South member's membership (in arrears), and a type.
    "members_staff:change": lambda w: {"person_id": w.south.pk},
    "members_staff:type_edit": lambda w: {"pk": w.membership_type.pk},
    # The return from GoCardless's hosted flow: a signed Billing Request id.
    "members_join:dd_return": lambda w: [{"token": "bad-token"}],
}

# The members' pages are the public's (a member signs in by email link, not as staff).
PUBLIC_NAMESPACES = ("members", "members_join")


def extend_world(w) -> None:
    from clarion.members.membership import membership_join, membership_payment_failed
    from clarion.members.models import MembershipType, Passkey
    from clarion.members.passkeys import credential_hash
    from clarion.members.services import (
        member_card_get_or_create,
        member_card_token,
        member_session_start,
        secret_hash,
        signin_link_create,
    )
    from clarion.people.models import Person

    # A South member in arrears (on the organiser's arrears list if scope leaked).
    w.membership_type = MembershipType.objects.create(
        name="Walk standard", rate_pence=500, period="monthly"
    )
    membership_join(person=w.south, membership_type=w.membership_type, pays_by="manual")
    membership_payment_failed(
        person=w.south, provider="walk", reference="walk-1", failed_at=timezone.now()
    )
    w.south_link_token = signin_link_create(person=w.south, browser_hash=secret_hash("south"))
    w.south_member_key = member_session_start(person=w.south)
    # A South passkey: no URL the organiser reaches may rename, remove or use it.
    Passkey.objects.create(
        person=w.south,
        credential_id=b"south-credential",
        credential_id_hash=credential_hash(b"south-credential"),
        public_key=b"south-public-key",
        name="South phone",
    )
    Person.objects.filter(pk=w.south.pk).update(
        membership_status="active", membership_number="S-SOUTHWORTHINGTON"
    )
    w.south.refresh_from_db()
    w.south_card_token = member_card_token(member_card_get_or_create(person=w.south))


def snapshot(person_id: int) -> dict:
    from clarion.members.models import (
        MemberSession,
        Membership,
        MembershipType,
        Passkey,
        SignInLink,
    )

    return {
        "membership": list(
            Membership.objects.filter(person_id=person_id).values_list(
                "status", "membership_type_id", "renews_on", "grace_until", "number"
            )
        ),
        "types": list(MembershipType.objects.order_by("pk").values_list("name", "rate_pence")),
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
        "passkeys": list(
            Passkey.objects.filter(person_id=person_id)
            .order_by("pk")
            .values_list("pk", "name", "sign_count", "last_used_at")
        ),
    }
