"""Reads for the organiser dashboard. Every figure is scoped twice over: people through
``people_for`` and events through ``events_for`` (the viewer's area subtree), then
narrowed to the area the viewer picked, which must itself be inside their scope."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from clarion.areas.models import Area
from clarion.areas.selectors import area_subtree_q, areas_visible_to
from clarion.engagement.selectors import cooling, rising
from clarion.people.models import MembershipStatus, Person
from clarion.people.selectors import people_for

UPCOMING_EVENTS_SHOWN = 10
ENGAGEMENT_SHOWN = 5
FIGURES_CACHE_SECONDS = 60


def dashboard_area(user, area_id) -> Area | None:
    """The area the dashboard shows: the one picked if it is inside ``user``'s scope,
    else the scope itself (None: national)."""
    scope = user.scope_area
    if area_id not in (None, ""):
        try:
            pk = int(area_id)
        except (TypeError, ValueError):
            return scope
        picked = areas_visible_to(user).filter(pk=pk).first()
        if picked is not None:
            return picked
    return scope


def dashboard_people(user, area: Area | None) -> QuerySet[Person]:
    people = people_for(user)
    return people.filter(area_subtree_q(area)) if area is not None else people


def never_attended(user, area: Area | None, *, now: dt.datetime | None = None) -> QuerySet[Person]:
    """People who signed up for an event that has started (an RSVP that held a place)
    and have never been checked in as attended at any event."""
    from clarion.events.models import Event, Rsvp

    now = now or timezone.now()
    signed_up = Rsvp.objects.filter(
        person=OuterRef("pk"),
        status=Rsvp.Status.GOING,
        event__starts_at__lte=now,
        event__status__in=[Event.Status.PUBLISHED],
    )
    attended = Rsvp.objects.filter(person=OuterRef("pk"), attendance=Rsvp.Attendance.ATTENDED)
    return (
        dashboard_people(user, area)
        .filter(Exists(signed_up))
        .exclude(Exists(attended))
        .order_by("last_name", "first_name", "pk")
    )


def upcoming_events(user, area: Area | None, *, limit: int = UPCOMING_EVENTS_SHOWN) -> list[dict]:
    """The next published events the viewer may see, with their RSVP counts (counts
    only: who RSVP'd is shown on the event's own page, filtered by ``people_for``)."""
    from clarion.events.models import Event, Rsvp
    from clarion.events.selectors import events_for

    events = events_for(user).filter(status=Event.Status.PUBLISHED, ends_at__gte=timezone.now())
    if area is not None:
        events = events.filter(area_subtree_q(area))
    going = Q(rsvps__status=Rsvp.Status.GOING)
    # One join to the RSVPs carries all three aggregates, so none is multiplied.
    events = events.annotate(
        going=Count("rsvps", filter=going),
        waitlisted=Count("rsvps", filter=Q(rsvps__status=Rsvp.Status.WAITLISTED)),
        guests=Sum("rsvps__guests", filter=going),
    ).order_by("starts_at", "pk")[:limit]
    return [
        {
            "pk": e.pk,
            "title": e.title,
            "starts_at": e.starts_at,
            "area_name": e.area.name if e.area_id else "",
            "capacity": e.capacity,
            "going": e.going,
            "waitlisted": e.waitlisted,
            "places_taken": e.going + (e.guests or 0),
        }
        for e in events
    ]


CANVASS_DAYS = 90


def canvass_totals(user, area: Area | None, *, days: int = CANVASS_DAYS) -> dict:
    """Doorstep and phone contacts recorded at the events the viewer may see in the
    last ``days`` days, per outcome, with the spread of support levels (totals only)."""
    from clarion.events.models import CanvassResult
    from clarion.events.selectors import events_for

    events = events_for(user)
    if area is not None:
        events = events.filter(area_subtree_q(area))
    results = CanvassResult.objects.filter(
        event__in=events, created_at__gte=timezone.now() - dt.timedelta(days=days)
    )
    by_outcome = dict(results.values_list("outcome").annotate(n=Count("id")).order_by())
    levels = dict(
        results.filter(support_level__isnull=False)
        .values_list("support_level")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "days": days,
        "total": sum(by_outcome.values()),
        "outcomes": [
            (CanvassResult.Outcome(v).label, by_outcome.get(v, 0))
            for v in CanvassResult.Outcome.values
        ],
        "levels": [(level, levels.get(level, 0)) for level in range(1, 6)],
    }


def engagement_movers(user, area: Area | None, *, limit: int = ENGAGEMENT_SHOWN) -> dict:
    """Who is rising (earning most engagement points lately) and who is cooling off
    (engaged, but quiet for a month) among the people the viewer may see in ``area``."""
    people = dashboard_people(user, area)
    return {"rising": rising(people, limit=limit), "cooling": cooling(people, limit=limit)}


def dashboard_figures(user, area: Area | None) -> dict:
    """The organiser dashboard's figures for ``area`` as ``user`` sees it, cached a
    minute per (scope, area): plain values only, so the cache holds no model rows."""
    scope = user.scope_area
    key = "dashboard:organiser:v3:{}:{}".format(
        scope.pk if scope is not None else "all", area.pk if area is not None else "all"
    )
    figures = cache.get(key)
    if figures is None:
        week_ago = timezone.now() - dt.timedelta(days=7)
        people = dashboard_people(user, area)
        figures = {
            "new_supporters": people.filter(created_at__gte=week_ago).count(),
            "new_members": people.filter(
                membership_status=MembershipStatus.ACTIVE, joined_on__gte=week_ago.date()
            ).count(),
            "never_attended": never_attended(user, area).count(),
            "events": upcoming_events(user, area),
            "canvass": canvass_totals(user, area),
            "engagement": engagement_movers(user, area),
        }
        cache.set(key, figures, FIGURES_CACHE_SECONDS)
    return figures
