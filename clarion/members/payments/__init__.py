"""Membership dues: card subscriptions through Stripe and Direct Debit through
GoCardless, joined from the "Join" page and kept in step by the providers' signed
webhooks. Every change of membership goes through ``members.membership``
(``membership_join``, ``membership_payment_received``, ``membership_payment_failed``,
``membership_cancel``); nothing here writes a membership row itself.

Nothing about the provider is stored in Clarion's tables: the person and membership
type ride with the provider's own objects as metadata (the Billing Request, mandate and
subscription at GoCardless; the Checkout Session and subscription at Stripe), and each
webhook reads them back from the signed event or from the provider's API. A payment is
recognised twice by its provider reference (``MembershipPayment`` is unique per
provider, reference and outcome), so a webhook delivered twice changes nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from clarion.people.models import Person

from .. import membership as lifecycle
from ..models import Membership, MembershipType

# Metadata keys set on the providers' objects.
PERSON_KEY = "clarion_person_id"
TYPE_KEY = "clarion_membership_type_id"


class DuesError(Exception):
    """The provider refused or could not be reached. ``str()`` is safe to show a member."""


def metadata_for(*, person: Person, membership_type: MembershipType) -> dict[str, str]:
    return {PERSON_KEY: str(person.pk), TYPE_KEY: str(membership_type.pk)}


def _pk(value) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def from_metadata(metadata) -> tuple[Person | None, MembershipType | None]:
    """The person and membership type the metadata Clarion set names (None if gone)."""
    metadata = metadata if isinstance(metadata, dict) else {}
    person_id, type_id = _pk(metadata.get(PERSON_KEY)), _pk(metadata.get(TYPE_KEY))
    person = Person.objects.filter(pk=person_id).first() if person_id else None
    mtype = MembershipType.objects.filter(pk=type_id).first() if type_id else None
    return person, mtype


def join_if_needed(*, person: Person, membership_type: MembershipType, pays_by: str) -> str:
    """Make ``person`` a pending member paying by ``pays_by`` unless they already are a
    member (pending, active or in grace). Safe to call for each delivery of the same
    event. Returns what happened."""
    current = Membership.objects.filter(person_id=person.pk).first()
    if current is not None and current.status == Membership.Status.PENDING:
        if (current.membership_type_id, current.pays_by) == (membership_type.pk, pays_by):
            return "already pending"
    elif current is not None and current.status in (
        Membership.Status.ACTIVE,
        Membership.Status.GRACE,
    ):
        return "already a member"
    try:
        lifecycle.membership_join(person=person, membership_type=membership_type, pays_by=pays_by)
    except ValidationError as exc:
        return "not joined: " + "; ".join(exc.messages)[:150]
    return "joined"
