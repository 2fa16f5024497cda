"""Reads of events. Staff code reaches events only through ``events_for`` /
``access_event`` (scoped to the user's area subtree) and attendees only through
``rsvps_visible`` (which applies ``people_for``)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, ExpressionWrapper, F, FloatField, QuerySet, Sum, Value
from django.http import Http404
from django.utils import timezone

from clarion.areas.models import Area
from clarion.areas.selectors import area_subtree_q
from clarion.core import tokens
from clarion.core.geo import great_circle_miles
from clarion.people.models import Person
from clarion.people.selectors import people_for

from .models import CanvassResult, Event, Rsvp

MILES_PER_DEGREE = 69.05


# --- Signed links ----------------------------------------------------------------


def manage_token(rsvp: Rsvp) -> str:
    return tokens.sign([rsvp.event_id, rsvp.pk], salt=tokens.EVENTS_RSVP_MANAGE, compress=True)


def rsvp_from_token(event: Event, token: str) -> Rsvp | None:
    """The RSVP a manage link names, or None if it is forged or for another event."""
    try:
        event_id, rsvp_id = tokens.unsign(token, salt=tokens.EVENTS_RSVP_MANAGE)
    except (ValueError, TypeError):
        return None
    if event_id != event.pk:
        return None
    return Rsvp.objects.select_related("person", "event").filter(pk=rsvp_id, event=event).first()


def host_token(event: Event) -> str:
    return tokens.sign([event.pk, event.host_person_id], salt=tokens.EVENTS_HOST, compress=True)


def host_token_ok(event: Event, token: str) -> bool:
    """True if ``token`` is this event's host link for its current member host."""
    try:
        event_id, person_id = tokens.unsign(token, salt=tokens.EVENTS_HOST)
    except (ValueError, TypeError):
        return False
    return (
        event_id == event.pk
        and event.host_person_id is not None
        and person_id == event.host_person_id
    )


# --- Public reads ----------------------------------------------------------------


def person_by_share_code(code: str) -> Person | None:
    code = (code or "").strip()
    if not code or len(code) > 16:
        return None
    return Person.objects.filter(share_code=code).first()


def public_events() -> QuerySet[Event]:
    """Published events anyone may open by link (listed or not)."""
    return Event.objects.filter(status__in=[Event.Status.PUBLISHED, Event.Status.CANCELLED])


def public_event(pk) -> Event:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    event = public_events().select_related("area").filter(pk=pk).first()
    if event is None:
        raise Http404
    return event


def places_taken(event: Event) -> int:
    """Places held by people going (each RSVP is one place plus its guests)."""
    row = Rsvp.objects.filter(event=event, status=Rsvp.Status.GOING).aggregate(
        n=Count("id"), guests=Sum("guests")
    )
    return (row["n"] or 0) + (row["guests"] or 0)


def places_left(event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(0, event.capacity - places_taken(event))


@dataclass
class NearbyEvent:
    event: Event
    miles: float


def events_near(
    *,
    latitude: float,
    longitude: float,
    miles: float,
    kind: str = "",
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    limit: int = 50,
) -> list[NearbyEvent]:
    """Upcoming public events within ``miles``, nearest first.

    A bounding box on the indexed latitude/longitude narrows the rows; the exact
    great-circle distance then drops the box's corners and orders the rest.
    """
    start = start or timezone.now()
    dlat = miles / MILES_PER_DEGREE
    dlng = miles / (MILES_PER_DEGREE * max(0.01, math.cos(math.radians(latitude))))
    qs = Event.objects.filter(
        status=Event.Status.PUBLISHED,
        visibility=Event.Visibility.PUBLIC,
        latitude__gte=latitude - dlat,
        latitude__lte=latitude + dlat,
        longitude__gte=longitude - dlng,
        longitude__lte=longitude + dlng,
        starts_at__gte=start,
    )
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    if kind:
        qs = qs.filter(kind=kind)
    # The database orders the box by a flat-earth distance (plain arithmetic, so it
    # runs the same on SQLite and PostgreSQL and needs no extension), with 1% slack;
    # the exact great-circle distance is then worked out for the page shown only.
    k = math.cos(math.radians(latitude))
    dy = F("latitude") - Value(latitude)
    dx = (F("longitude") - Value(longitude)) * Value(k)
    reach = (miles / MILES_PER_DEGREE) ** 2 * 1.01
    qs = (
        qs.annotate(flat_d2=ExpressionWrapper(dy * dy + dx * dx, output_field=FloatField()))
        .filter(flat_d2__lte=reach)
        .order_by("flat_d2", "starts_at", "pk")
    )
    found = []
    shown = (
        "id",
        "kind",
        "title",
        "venue",
        "postcode",
        "latitude",
        "longitude",
        "starts_at",
        "ends_at",
        "capacity",
        "status",
        "visibility",
        "area_id",
    )
    for event in qs.only(*shown)[: limit + 10]:
        d = great_circle_miles(latitude, longitude, event.latitude, event.longitude)
        if d <= miles:
            found.append(NearbyEvent(event=event, miles=d))
    found.sort(key=lambda n: (n.miles, n.event.starts_at, n.event.pk))
    return found[:limit]


def upcoming_online(*, kind: str = "", start=None, end=None, limit: int = 20) -> QuerySet[Event]:
    qs = Event.objects.filter(
        status=Event.Status.PUBLISHED,
        visibility=Event.Visibility.PUBLIC,
        kind=Event.Kind.ONLINE,
        starts_at__gte=start or timezone.now(),
    )
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    if kind and kind != Event.Kind.ONLINE:
        return qs.none()
    return qs[:limit]


def area_feed_events(area: Area) -> QuerySet[Event]:
    since = timezone.now() - datetime.timedelta(days=30)
    return Event.objects.filter(
        area_subtree_q(area),
        status__in=[Event.Status.PUBLISHED, Event.Status.CANCELLED],
        visibility=Event.Visibility.PUBLIC,
        starts_at__gte=since,
    ).order_by("starts_at")[:500]


def area_upcoming_events(area: Area, *, limit: int = 20) -> QuerySet[Event]:
    """Listed, published events in ``area``'s subtree that have not ended, soonest
    first (the public local group page)."""
    return (
        Event.objects.filter(
            area_subtree_q(area),
            status=Event.Status.PUBLISHED,
            visibility=Event.Visibility.PUBLIC,
            ends_at__gte=timezone.now(),
        )
        .select_related("area")
        .order_by("starts_at", "pk")[:limit]
    )


def nearest_upcoming_event(
    *, latitude: float, longitude: float, miles: float = 25
) -> NearbyEvent | None:
    """The nearest listed upcoming event within ``miles`` (the action pages' "RSVP to
    the nearest event" next step), or None."""
    found = events_near(latitude=latitude, longitude=longitude, miles=miles, limit=1)
    return found[0] if found else None


# --- Staff reads -----------------------------------------------------------------


def events_for(user) -> QuerySet[Event]:
    """Events ``user`` may see: all for national staff, their area subtree otherwise
    (an event with no area is national)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Event.objects.none()
    scope = user.scope_area
    qs = Event.objects.select_related("area")
    return qs if scope is None else qs.filter(area_subtree_q(scope))


def access_event(user, pk, *, write: bool = False) -> Event:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    event = events_for(user).filter(pk=pk).first()
    if event is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return event


def rsvps_visible(user, event: Event) -> QuerySet[Rsvp]:
    """RSVPs to ``event`` from people ``user`` may see (invariant 4)."""
    return (
        Rsvp.objects.filter(event=event, person__in=people_for(user).values("pk"))
        .select_related("person")
        .order_by("status", "created_at", "pk")
    )


def rsvps_hidden_count(user, event: Event) -> int:
    total = Rsvp.objects.filter(event=event).exclude(status=Rsvp.Status.CANCELLED).count()
    return total - rsvps_visible(user, event).exclude(status=Rsvp.Status.CANCELLED).count()


def approval_queue(user) -> QuerySet[Event]:
    return events_for(user).filter(status=Event.Status.PROPOSED).order_by("created_at")


def rsvp_counts(event: Event) -> dict[str, int]:
    rows = Rsvp.objects.filter(event=event).values("status").annotate(n=Count("id"))
    counts = {r["status"]: r["n"] for r in rows}
    attended = Rsvp.objects.filter(event=event, attendance=Rsvp.Attendance.ATTENDED).count()
    return {
        "going": counts.get(Rsvp.Status.GOING, 0),
        "waitlisted": counts.get(Rsvp.Status.WAITLISTED, 0),
        "cancelled": counts.get(Rsvp.Status.CANCELLED, 0),
        "attended": attended,
        "places_taken": places_taken(event),
    }


def canvass_totals(event: Event) -> dict:
    """Contacts per outcome and the count and average of support levels recorded."""
    rows = CanvassResult.objects.filter(event=event).values("outcome").annotate(n=Count("id"))
    by_outcome = {value: 0 for value in CanvassResult.Outcome.values}
    for r in rows:
        by_outcome[r["outcome"]] = r["n"]
    levels = (
        CanvassResult.objects.filter(event=event, support_level__isnull=False)
        .values("support_level")
        .annotate(n=Count("id"))
    )
    by_level = {lvl: 0 for lvl in range(1, 6)}
    for r in levels:
        by_level[r["support_level"]] = r["n"]
    return {
        "total": sum(by_outcome.values()),
        "outcomes": [
            (CanvassResult.Outcome(v).label, by_outcome[v]) for v in CanvassResult.Outcome.values
        ],
        "levels": sorted(by_level.items()),
    }


def policy_requires_approval(area: Area | None) -> bool:
    """The nearest policy up the tree from ``area``; approval is required by default."""
    from .models import AreaEventPolicy

    if area is None:
        return True
    ids = [int(x) for x in area.path.strip("/").split("/") if x.isdigit()]
    policies = {
        p.area_id: p.approval_required for p in AreaEventPolicy.objects.filter(area_id__in=ids)
    }
    for area_id in reversed(ids):
        if area_id in policies:
            return policies[area_id]
    return True


# --- API reads -------------------------------------------------------------------


def api_events(key) -> QuerySet[Event]:
    """Events an API key reaches: its owner's (``events_for``), narrowed to the key's
    own area when it has one."""
    qs = events_for(key.owner)
    if key.area_id:
        qs = qs.filter(area_subtree_q(key.area))
    return qs


def api_rsvps(key) -> QuerySet[Rsvp]:
    """RSVPs an API key reaches: the person must be in its reach (``api_people``,
    invariant 4) and so must the event."""
    from clarion.api.selectors import api_people

    return Rsvp.objects.filter(
        person_id__in=api_people(key).values("pk"), event_id__in=api_events(key).values("pk")
    )


# --- Shifts, answers and host messages -------------------------------------------


def shift_name(shift) -> str:
    """A shift as people read it: its label (if any) and its local times."""
    start = timezone.localtime(shift.starts_at)
    end = timezone.localtime(shift.ends_at)
    times = f"{start:%a %d %b %H:%M}–{end:%H:%M}"
    return f"{shift.label} ({times})" if shift.label else times


def shift_places_taken(shift_ids, *, exclude_rsvp=None) -> dict[int, int]:
    """Places held on each shift (one per person plus their guests) by RSVPs that are
    not cancelled, leaving out ``exclude_rsvp``'s own signups."""
    from .models import ShiftSignup

    qs = ShiftSignup.objects.filter(shift_id__in=list(shift_ids)).exclude(
        rsvp__status=Rsvp.Status.CANCELLED
    )
    if exclude_rsvp is not None and exclude_rsvp.pk is not None:
        qs = qs.exclude(rsvp=exclude_rsvp)
    rows = qs.values("shift_id").annotate(n=Count("id"), guests=Sum("rsvp__guests"))
    return {r["shift_id"]: (r["n"] or 0) + (r["guests"] or 0) for r in rows}


def shifts_with_places(event: Event) -> list:
    """The event's shifts, each with ``taken`` and ``left`` (None for no limit)."""
    shifts = list(event.shifts.all())
    taken = shift_places_taken([s.pk for s in shifts])
    for shift in shifts:
        shift.taken = taken.get(shift.pk, 0)
        shift.left = None if shift.capacity is None else max(0, shift.capacity - shift.taken)
    return shifts


def with_choices(rsvps):
    """``rsvps`` with their shift signups and answers loaded for listing."""
    return rsvps.prefetch_related("shift_signups__shift", "answers__question")


def host_message_recipients(message) -> QuerySet[Rsvp]:
    """Who gets ``message``: people going (and waiting, if asked) with an email that
    is not bouncing or complained about; for a staff message, only those in the
    sender's scope (nobody once the sender is gone)."""
    from clarion.people.models import EmailStatus

    statuses = [Rsvp.Status.GOING]
    if message.include_waitlisted:
        statuses.append(Rsvp.Status.WAITLISTED)
    qs = (
        Rsvp.objects.filter(event_id=message.event_id, status__in=statuses)
        .exclude(person__email__isnull=True)
        .exclude(person__email="")
        .exclude(person__email_status__in=[EmailStatus.BOUNCING, EmailStatus.COMPLAINED])
        .select_related("person", "event")
        .order_by("pk")
    )
    if not message.from_host:
        if message.sent_by is None:
            return qs.none()
        qs = qs.filter(person__in=people_for(message.sent_by).values("pk"))
    return qs


def upcoming_public(*, limit: int = 12) -> QuerySet[Event]:
    """The next events anyone may find (published and listed), soonest first: what the
    event finder and the home page show before anyone searches."""
    return (
        Event.objects.filter(
            status=Event.Status.PUBLISHED,
            visibility=Event.Visibility.PUBLIC,
            starts_at__gte=timezone.now(),
        )
        .select_related("area")
        .order_by("starts_at", "pk")[:limit]
    )
