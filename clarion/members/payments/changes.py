"""A member's change of membership type from their membership page.

Manual payers, and members whose provider subscription is not made yet, change at
once. Card and Direct Debit members change the provider's subscription first (its
amount, from the next collection on; the period stays, so monthly and yearly types do
not mix) and only then is the change recorded (``membership.membership_type_change``).
A provider that refuses leaves everything as it was.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from clarion.people.models import Person

from .. import membership as lifecycle
from ..models import Membership, MembershipType
from . import DuesError, gocardless, stripe_dues

Provider = Membership.Provider
CHANGERS = {
    Provider.GOCARDLESS: gocardless.subscription_type_change,
    Provider.STRIPE: stripe_dues.subscription_type_change,
}


def type_change(
    *, person: Person, membership_type: MembershipType, ip: str | None = None
) -> Membership:
    """Change ``person``'s membership to ``membership_type``. Raises ValidationError
    (a message for the member) when the change is not allowed, and DuesError when the
    provider refused or could not be asked; nothing is recorded then. The provider is
    asked outside any transaction (no lock is held across the call); the record checks
    that the membership did not change meanwhile."""
    membership = (
        Membership.objects.select_related("membership_type").filter(person_id=person.pk).first()
    )
    refusal = lifecycle.type_change_refusal(membership, membership_type)
    if refusal:
        raise ValidationError(refusal)
    assert membership is not None
    detail: dict = {}
    if membership.pays_by != Membership.PaysBy.MANUAL:
        if membership.provider in CHANGERS and membership.provider_subscription_id:
            detail = CHANGERS[membership.provider](
                subscription_id=membership.provider_subscription_id,
                person=person,
                membership_type=membership_type,
            )
        elif membership.status != Membership.Status.PENDING:
            # Joined before Clarion kept the provider's subscription: it cannot be
            # found to change, and changing only the record would misstate the dues.
            raise DuesError(
                _(
                    "Your payments cannot be changed from here. Cancel your membership "
                    "and join again with the new type, or ask us to change it."
                )
            )
    return lifecycle.membership_type_change(
        person=person,
        membership_type=membership_type,
        was_type_id=membership.membership_type_id,
        provider_detail=detail,
        ip=ip,
    )


def staff_type_change_at_provider(
    *, membership: Membership, membership_type: MembershipType, status: str
) -> dict:
    """Before a staff correction records a new type for a card or Direct Debit member:
    change the provider's subscription amount the same way a member's own change does,
    so the record never states dues the provider does not collect. Returns the
    provider's detail ({} when nothing at the provider changes: same type, a manual
    payer, no stored subscription, or the correction cancels). Raises ValidationError
    on the type field when the period differs, DuesError when the provider refused."""
    if (
        membership_type.pk == membership.membership_type_id
        or membership.pays_by == Membership.PaysBy.MANUAL
        or status == Membership.Status.CANCELLED
        or membership.provider not in CHANGERS
        or not membership.provider_subscription_id
    ):
        return {}
    if membership_type.period != membership.membership_type.period:
        raise ValidationError(
            {
                "membership_type": _(
                    "This member pays by card or Direct Debit every %(now)s; that type is "
                    "paid every %(new)s. The member has to cancel and join again with it."
                )
                % {
                    "now": lifecycle.period_word(membership.membership_type.period),
                    "new": lifecycle.period_word(membership_type.period),
                }
            }
        )
    return CHANGERS[membership.provider](
        subscription_id=membership.provider_subscription_id,
        person=membership.person,
        membership_type=membership_type,
    )
