"""What the members' home holds about a person, for subject access, erasure and
merging. Sign-in links and sessions hold only hashes of random values; the card its
random code."""

from __future__ import annotations

from clarion.core import privacy

from .models import MemberCard, MemberSession, SignInLink


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
        "membership_card": [
            {"created_at": c.created_at} for c in MemberCard.objects.filter(person=person)
        ],
    }


def erase(person) -> None:
    SignInLink.objects.filter(person=person).delete()
    MemberSession.objects.filter(person=person).delete()
    MemberCard.objects.filter(person=person).delete()


def merge(survivor, duplicate) -> None:
    # The duplicate's links and sessions end (its holder signs in again, as the
    # survivor); its card is void, since the survivor keeps or gets their own.
    SignInLink.objects.filter(person=duplicate).delete()
    MemberSession.objects.filter(person=duplicate).delete()
    MemberCard.objects.filter(person=duplicate).delete()


privacy.register("members", export=export, erase=erase, merge=merge)
