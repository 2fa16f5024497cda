"""What the members' home holds about a person, for subject access, erasure and
merging. Sign-in links and sessions hold only hashes of random values; the card its
random code; passkeys a public key (the private key never leaves the member's device)."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from clarion.core import privacy

from . import membership as lifecycle
from .models import (
    MemberCard,
    MemberSession,
    Membership,
    MembershipChange,
    MembershipNotice,
    MembershipPayment,
    Passkey,
    RecruitersTableOptIn,
    SignInLink,
)
from .payments import stops


def export(person) -> dict:
    return {
        "sign_in_links": [
            {"created_at": link.created_at, "expires_at": link.expires_at, "used_at": link.used_at}
            for link in SignInLink.objects.filter(person=person).order_by("created_at")
        ],
        "sessions": [
            {
                "created_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "expires_at": s.expires_at,
            }
            for s in MemberSession.objects.filter(person=person).order_by("created_at")
        ],
        "passkeys": [
            {"name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at}
            for p in Passkey.objects.filter(person=person).order_by("created_at")
        ],
        "membership_card": [
            {"created_at": c.created_at} for c in MemberCard.objects.filter(person=person)
        ],
        "membership": [
            {
                "number": m.number,
                "type": m.membership_type.name,
                "status": m.status,
                "pays_by": m.pays_by,
                "joined_on": m.joined_on,
                "renews_on": m.renews_on,
                "grace_until": m.grace_until,
                "lapsed_at": m.lapsed_at,
                "cancelled_at": m.cancelled_at,
                "cancel_reason": m.cancel_reason,
                "payments": [
                    {
                        "provider": p.provider,
                        "reference": p.reference,
                        "outcome": p.outcome,
                        "amount_pence": p.amount_pence,
                        "at": p.at,
                    }
                    for p in MembershipPayment.objects.filter(membership=m).order_by("at")
                ],
                "history": [
                    {"kind": c.kind, "at": c.at, "reason": c.reason}
                    for c in MembershipChange.objects.filter(membership=m).order_by("at")
                ],
            }
            for m in Membership.objects.filter(person=person).select_related("membership_type")
        ],
        "recruiters_table": [
            {"shown_since": o.created_at}
            for o in RecruitersTableOptIn.objects.filter(person=person)
        ],
        "membership_emails": [
            {"kind": n.kind, "cycle": n.cycle, "created_at": n.created_at}
            for n in MembershipNotice.objects.filter(person=person).order_by("created_at")
        ],
    }


def _release(memberships) -> None:
    """Queue the provider subscriptions of ``memberships`` (about to be deleted) to be
    stopped; the stop rows outlive them and are sent to the provider after the commit
    (and by the ``members.provider_stops`` job if the queue is down)."""
    for membership in memberships:
        for stop_id in lifecycle.membership_provider_release(membership):
            transaction.on_commit(partial(stops.stop_enqueue, stop_id), robust=True)


def erase(person) -> None:
    SignInLink.objects.filter(person=person).delete()
    MemberSession.objects.filter(person=person).delete()
    Passkey.objects.filter(person=person).delete()
    MemberCard.objects.filter(person=person).delete()
    # The membership with its payments and history; its number stays used (the
    # counter never goes back), so it is never given to anyone else. Its provider
    # subscription is stopped first: an erased person is never charged again.
    _release(Membership.objects.filter(person=person))
    Membership.objects.filter(person=person).delete()
    MembershipNotice.objects.filter(person=person).delete()
    RecruitersTableOptIn.objects.filter(person=person).delete()


def merge(survivor, duplicate) -> None:
    # The duplicate's links, sessions and passkeys end (its holder signs in again, as
    # the survivor, and adds a passkey there); its card is void, since the survivor
    # keeps or gets their own.
    SignInLink.objects.filter(person=duplicate).delete()
    MemberSession.objects.filter(person=duplicate).delete()
    Passkey.objects.filter(person=duplicate).delete()
    MemberCard.objects.filter(person=duplicate).delete()
    # One membership per person: the survivor keeps theirs; if they had none, the
    # duplicate's (with its number, payments and history) becomes theirs.
    if Membership.objects.filter(person=survivor).exists():
        # The duplicate's subscription would otherwise go on collecting for a
        # membership that no longer exists.
        _release(Membership.objects.filter(person=duplicate))
        Membership.objects.filter(person=duplicate).delete()
    else:
        Membership.objects.filter(person=duplicate).update(person=survivor)
    MembershipNotice.objects.filter(person=duplicate).delete()
    # Being shown in the recruiters' table is the person's own choice: the survivor
    # keeps theirs, the duplicate's is dropped.
    RecruitersTableOptIn.objects.filter(person=duplicate).delete()


privacy.register("members", export=export, erase=erase, merge=merge)
