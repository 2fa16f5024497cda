"""Reads of donations. Staff code reaches donations and plans only through
``donations_for`` / ``access_donation`` / ``plans_for`` / ``access_plan``, which scope
them through the donor (``people.selectors.people_for``): an organiser sees the gifts
of people in their area subtree; gifts whose donor was erased are national-only.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404

from clarion.people.selectors import people_for

from .models import Donation, RecurringPlan

COUNTED = Q(status=Donation.Status.SUCCEEDED)


def page_totals(page) -> dict[str, int]:
    """Succeeded (not refunded) gifts on ``page``: how many and how much, net of any
    partial refunds. Uses the (page, status) index."""
    row = Donation.objects.filter(COUNTED, page=page).aggregate(
        count=Count("pk"), amount_pence=Coalesce(Sum(F("amount_pence") - F("refunded_pence")), 0)
    )
    return {"count": row["count"], "amount_pence": int(row["amount_pence"])}


def page_money_by_source(page, *, limit: int = 20) -> list[dict]:
    """For the page dashboard: counted gifts grouped by source code, largest first."""
    rows = (
        Donation.objects.filter(COUNTED, page=page)
        .values("source")
        .annotate(count=Count("pk"), amount_pence=Sum(F("amount_pence") - F("refunded_pence")))
        .order_by("-amount_pence", "source")[:limit]
    )
    return [dict(row) for row in rows]


def page_recurring(page) -> dict[str, int]:
    """Active monthly plans started on ``page`` and what they bring in each month."""
    row = RecurringPlan.objects.filter(page=page, status=RecurringPlan.Status.ACTIVE).aggregate(
        count=Count("pk"), monthly_pence=Coalesce(Sum("amount_pence"), 0)
    )
    return {"count": row["count"], "monthly_pence": int(row["monthly_pence"])}


def person_totals(person) -> dict[str, int]:
    """A donor's counted gifts (for the person page)."""
    row = Donation.objects.filter(COUNTED, person=person).aggregate(
        count=Count("pk"), amount_pence=Coalesce(Sum(F("amount_pence") - F("refunded_pence")), 0)
    )
    return {"count": row["count"], "amount_pence": int(row["amount_pence"])}


def _national(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.is_active and user.scope_area is None


def donations_for(user) -> QuerySet[Donation]:
    """Every donation ``user`` may see."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Donation.objects.none()
    if _national(user):
        return Donation.objects.all()
    return Donation.objects.filter(person__in=people_for(user).values("pk"))


def access_donation(user, donation_id, *, write: bool = False) -> Donation:
    """The donation if ``user`` may see it (404 otherwise); ``write`` needs can_write (403)."""
    try:
        pk = int(donation_id)
    except (TypeError, ValueError):
        raise Http404 from None
    donation = (
        donations_for(user)
        .select_related("person", "page", "plan", "recruiter")
        .filter(pk=pk)
        .first()
    )
    if donation is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return donation


def plans_for(user) -> QuerySet[RecurringPlan]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return RecurringPlan.objects.none()
    if _national(user):
        return RecurringPlan.objects.all()
    return RecurringPlan.objects.filter(person__in=people_for(user).values("pk"))


def access_plan(user, plan_id, *, write: bool = False) -> RecurringPlan:
    try:
        pk = int(plan_id)
    except (TypeError, ValueError):
        raise Http404 from None
    plan = plans_for(user).select_related("person", "page").filter(pk=pk).first()
    if plan is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return plan


def compliance_queue(user) -> QuerySet[Donation]:
    """Flagged donations waiting for a permissibility check, oldest first."""
    return (
        donations_for(user)
        .filter(permissibility=Donation.Permissibility.PENDING)
        .select_related("person", "page")
        .order_by("succeeded_at", "pk")
    )


# --- API reads -------------------------------------------------------------------


def api_fundraising_pages(key) -> QuerySet:
    """Donation pages an API key reaches: its owner's (``actions.selectors.pages_for``),
    narrowed to the key's own area when it has one."""
    from clarion.actions.models import ActionPage
    from clarion.actions.selectors import pages_for
    from clarion.areas.selectors import area_subtree_q

    qs = pages_for(key.owner).filter(kind=ActionPage.Kind.DONATION)
    if key.area_id:
        qs = qs.filter(area_subtree_q(key.area))
    return qs


API_STATUSES = (Donation.Status.SUCCEEDED, Donation.Status.REFUNDED)


def api_donations(key) -> QuerySet[Donation]:
    """Gifts an API key reaches: those of people in its reach (``api_people``,
    invariant 4); a national key with no area also sees gifts whose donor was erased.
    Only completed gifts (succeeded, or refunded since): a checkout still pending or
    abandoned is not a donation yet."""
    from clarion.api.selectors import api_people

    qs = Donation.objects.filter(status__in=API_STATUSES)
    if _national(key.owner) and not key.area_id:
        return qs
    return qs.filter(person_id__in=api_people(key).values("pk"))
