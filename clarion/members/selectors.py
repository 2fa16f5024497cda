"""Reads of memberships: the types on offer, a member's own membership, and the staff
report, always scoped through ``people.selectors.people_for`` (invariant 4)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.utils import timezone

from clarion.areas.models import Area
from clarion.areas.selectors import area_subtree_q
from clarion.people.selectors import access_person, people_for

from .models import Membership, MembershipChange, MembershipPayment, MembershipType


def membership_types_active() -> QuerySet[MembershipType]:
    """The types a person may join now, in the order staff set (the joining page)."""
    return MembershipType.objects.filter(active=True).order_by("order", "name")


def membership_of(person) -> Membership | None:
    """``person``'s membership (any status), or None."""
    return Membership.objects.select_related("membership_type").filter(person_id=person.pk).first()


def memberships_for(user, area: Area | None = None) -> QuerySet[Membership]:
    """Memberships of the people ``user`` may reach, optionally inside ``area``'s
    subtree (within the user's scope: ``area`` narrows, never widens)."""
    people = people_for(user)
    if area is not None:
        people = people.filter(area_subtree_q(area))
    return Membership.objects.filter(person__in=people.values("pk"))


def access_membership(user, person_id, *, write: bool = False) -> Membership:
    """The membership of the person ``person_id`` if ``user`` may reach them (404
    otherwise); ``write`` needs a role that may change people (403)."""
    person = access_person(user, person_id, write=write)
    membership = membership_of(person)
    if membership is None:
        raise Http404
    membership.person = person
    return membership


def _months(now: dt.datetime, count: int) -> list[dt.date]:
    first = timezone.localdate(now).replace(day=1)
    months = []
    for _ in range(count):
        months.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def _per_month(qs, field: str, since: dt.datetime, *, total: str | None = None) -> dict:
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(month=TruncMonth(field))
        .values("month")
        .annotate(n=Count("pk"), **({"total": Sum(total)} if total else {}))
    )
    out = {}
    for row in rows:
        month = row["month"]
        if isinstance(month, dt.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        out[month.replace(day=1)] = (row["n"], row.get("total") or 0)
    return out


def membership_report(
    user, *, area: Area | None = None, months: int = 12, now: dt.datetime | None = None
) -> dict:
    """The staff membership page's figures for the members ``user`` may reach (inside
    ``area`` when given): counts by status and by type, joins, renewals and lapses per
    month, dues received per month, and the arrears (in grace) list."""
    now = now or timezone.now()
    qs = memberships_for(user, area)
    month_list = _months(now, months)
    first = month_list[0]
    since = timezone.make_aware(dt.datetime(first.year, first.month, 1))
    changes = MembershipChange.objects.filter(membership__in=qs.values("pk"))
    joins = _per_month(changes.filter(kind=MembershipChange.Kind.JOINED), "at", since)
    renewals = _per_month(changes.filter(kind=MembershipChange.Kind.RENEWED), "at", since)
    lapses = _per_month(changes.filter(kind=MembershipChange.Kind.LAPSED), "at", since)
    dues = _per_month(
        MembershipPayment.objects.filter(
            membership__in=qs.values("pk"), outcome=MembershipPayment.Outcome.PAID
        ),
        "at",
        since,
        total="amount_pence",
    )
    by_status = dict(qs.values_list("status").annotate(n=Count("pk")))
    by_type = {
        row["membership_type__name"]: row["n"]
        for row in qs.values("membership_type__name").annotate(n=Count("pk"))
    }
    return {
        "total": sum(by_status.values()),
        "by_status": [
            {"status": value, "label": label, "count": by_status.get(value, 0)}
            for value, label in Membership.Status.choices
        ],
        "by_type": [
            {"type": t, "count": by_type.get(t.name, 0)}
            for t in MembershipType.objects.order_by("order", "name")
            if t.active or by_type.get(t.name)
        ],
        "months": [
            {
                "month": m,
                "joins": joins.get(m, (0, 0))[0],
                "renewals": renewals.get(m, (0, 0))[0],
                "lapses": lapses.get(m, (0, 0))[0],
                "payments": dues.get(m, (0, 0))[0],
                "dues_pence": int(dues.get(m, (0, 0))[1]),
            }
            for m in reversed(month_list)
        ],
        "arrears": list(
            qs.filter(status=Membership.Status.GRACE)
            .select_related("person", "membership_type", "person__area")
            .order_by("grace_until", "pk")[:200]
        ),
        "arrears_count": qs.filter(status=Membership.Status.GRACE).count(),
    }
