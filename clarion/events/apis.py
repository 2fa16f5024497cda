"""Action Network v2 / OSDI API endpoints for the events app (mounted under /api/v2/):
events, and attendances (RSVPs) with the record attendance helper.

An event's status maps to OSDI's: published → ``confirmed``, draft or waiting for
approval → ``tentative``, cancelled or declined → ``cancelled``. An attendance is
``accepted`` when the person holds a place, ``tentative`` while on the waiting list
and ``declined`` once cancelled (``clarion:rsvp_status`` gives Clarion's own word).
Attendances go through ``events.services.rsvp_create``, so capacity and the waiting
list hold for the API exactly as for the public page.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.urls import re_path, reverse
from django.utils.translation import gettext as _

from clarion.api import background, hal
from clarion.api import services as api_services
from clarion.api.errors import ApiError
from clarion.api.filters import filter_datetime, filter_text
from clarion.api.payloads import (
    linked_person,
    nested,
    request_payload,
    text,
    unknown_fields,
    when,
)
from clarion.api.selectors import api_person, int_id
from clarion.api.views import collection_response, endpoint
from clarion.core.site import site_url

from . import selectors, services
from .models import Event, Rsvp

STATUS_OUT = {
    Event.Status.PUBLISHED: "confirmed",
    Event.Status.DRAFT: "tentative",
    Event.Status.PROPOSED: "tentative",
    Event.Status.CANCELLED: "cancelled",
    Event.Status.DECLINED: "cancelled",
}
STATUS_IN = {
    "confirmed": Event.Status.PUBLISHED,
    "tentative": Event.Status.DRAFT,
    "cancelled": Event.Status.CANCELLED,
}
RSVP_STATUS_OUT = {
    Rsvp.Status.GOING: "accepted",
    Rsvp.Status.WAITLISTED: "tentative",
    Rsvp.Status.CANCELLED: "declined",
}
# An event with no end given lasts this long.
DEFAULT_LENGTH = datetime.timedelta(hours=2)
MAX_NUMBER = 1_000_000

EVENT_FIELDS = {
    "title",
    "name",
    "description",
    "start_date",
    "end_date",
    "location",
    "capacity",
    "visibility",
    "status",
    "clarion:kind",
    "clarion:online_url",
}
# Read-only or Action Network–only fields a client may send (often back unchanged).
EVENT_IGNORED = {
    "identifiers",
    "created_date",
    "modified_date",
    "browser_url",
    "origin_system",
    "instructions",
    "featured_image_url",
    "total_accepted",
    "transparence",
    "guests_can_invite_others",
    "reminders",
    "action_network:hidden",
    "action_network:event_campaign_id",
    "clarion:places_taken",
    "clarion:waitlisted",
    "clarion:status",
    "_links",
    "_embedded",
}
ATTENDANCE_FIELDS = {
    "person",
    "_links",
    "add_tags",
    "remove_tags",
    "triggers",
    "identifiers",
    "status",
    "created_date",
    "modified_date",
    "origin_system",
    "action_network:referrer_data",
    "clarion:guests",
}
EVENT_FILTERS = {
    "created_date": ("created_at", filter_datetime, False),
    "modified_date": ("created_at", filter_datetime, False),
    "start_date": ("starts_at", filter_datetime, False),
    "end_date": ("ends_at", filter_datetime, False),
    "title": ("title", filter_text, True),
}
ATTENDANCE_FILTERS = {
    "created_date": ("created_at", filter_datetime, False),
    "modified_date": ("created_at", filter_datetime, False),
}


# --- Documents ------------------------------------------------------------------


def _public_url(request, path: str) -> str:
    if request is None:
        return site_url(path)
    return request.build_absolute_uri(path)


def event_document(request, event: Event) -> dict:
    """An event in Action Network's shape. ``request`` may be None (a webhook built by a
    worker): links are then made from ``settings.SITE_URL``. Counts come from
    ``api_going`` / ``api_waiting`` annotations when the caller made them."""
    going = getattr(event, "api_going", None)
    waiting = getattr(event, "api_waiting", None)
    if going is None or waiting is None:
        counts = selectors.rsvp_counts(event)
        going, waiting = counts["going"], counts["waitlisted"]
    location: dict[str, Any] = {"country": "GB"}
    if event.venue:
        location["venue"] = event.venue
    if event.address:
        location["address_lines"] = [event.address]
    if event.postcode:
        location["postal_code"] = event.postcode
    if event.latitude is not None and event.longitude is not None:
        location["location"] = {
            "latitude": event.latitude,
            "longitude": event.longitude,
            "accuracy": "Approximate",
        }
    document: dict[str, Any] = {
        "identifiers": hal.identifiers(event.pk),
        "created_date": hal.iso(event.created_at),
        # Events keep no modification time of their own yet.
        "modified_date": hal.iso(event.created_at),
        "title": event.title,
        "name": event.title,
        "description": event.description_html,
        "browser_url": _public_url(request, reverse("events:detail", kwargs={"pk": event.pk})),
        "origin_system": "Clarion",
        "start_date": hal.iso(event.starts_at),
        "end_date": hal.iso(event.ends_at),
        "status": STATUS_OUT.get(event.status, "tentative"),
        "visibility": "public" if event.visibility == Event.Visibility.PUBLIC else "private",
        "capacity": event.capacity,
        "total_accepted": going,
        "transparence": "opaque",
        "location": location,
        "clarion:kind": event.kind,
        "clarion:status": event.status,
        "clarion:waitlisted": waiting,
        "_links": {
            "self": {"href": hal.absolute(request, "event", event_id=event.pk)},
            "osdi:attendances": {
                "href": hal.absolute(request, "event_attendances", event_id=event.pk)
            },
            "osdi:record_attendance_helper": {
                "href": hal.absolute(request, "event_attendances", event_id=event.pk)
            },
            "curies": hal.CURIES,
        },
    }
    if event.online_url:
        document["clarion:online_url"] = event.online_url
    return document


def attendance_document(request, rsvp: Rsvp) -> dict:
    """An RSVP as an Action Network attendance. ``request`` may be None (links from
    ``settings.SITE_URL``)."""
    changed = [
        t
        for t in (rsvp.created_at, rsvp.cancelled_at, rsvp.promoted_at, rsvp.checked_in_at)
        if t is not None
    ]
    referrer: dict[str, str] = {}
    if rsvp.source:
        referrer["source"] = rsvp.source
    if rsvp.referrer:
        referrer["website"] = rsvp.referrer
    return {
        "identifiers": hal.identifiers(rsvp.pk),
        "created_date": hal.iso(rsvp.created_at),
        "modified_date": hal.iso(max(changed)),
        "status": RSVP_STATUS_OUT.get(rsvp.status, "needs action"),
        "action_network:person_id": str(rsvp.person_id),
        "action_network:event_id": str(rsvp.event_id),
        "action_network:referrer_data": referrer,
        "clarion:rsvp_status": rsvp.status,
        "clarion:guests": rsvp.guests,
        "clarion:attendance": rsvp.attendance,
        "_links": {
            "self": {
                "href": hal.absolute(
                    request, "event_attendance", event_id=rsvp.event_id, attendance_id=rsvp.pk
                )
            },
            "osdi:event": {"href": hal.absolute(request, "event", event_id=rsvp.event_id)},
            "osdi:person": {"href": hal.absolute(request, "person", person_id=rsvp.person_id)},
            "curies": hal.CURIES,
        },
    }


# --- Reading and writing ----------------------------------------------------------


def _with_counts(qs: QuerySet[Event]) -> QuerySet[Event]:
    return qs.annotate(
        api_going=Count("rsvps", filter=Q(rsvps__status=Rsvp.Status.GOING)),
        api_waiting=Count("rsvps", filter=Q(rsvps__status=Rsvp.Status.WAITLISTED)),
    )


def _event(key, event_id) -> Event:
    pk = int_id(event_id)
    event = selectors.api_events(key).filter(pk=pk).first() if pk else None
    if event is None:
        raise ApiError(404, _("Couldn't find event with id = %(id)s") % {"id": str(event_id)[:50]})
    return event


def _require_people(key) -> None:
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))


def _whole_number(value: Any, field: str, *, allow_none: bool = False) -> int | None:
    """A whole number from 0 to MAX_NUMBER, given as a number or (from a query string
    or form body) as digits."""
    if value is None and allow_none:
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER:
        raise ApiError(
            400,
            _("%(field)s must be a whole number from 0 to %(max)s.")
            % {"field": field, "max": MAX_NUMBER},
        )
    return value


def _apply_event_fields(event: Event, data: dict, *, creating: bool) -> int | None:
    """Copy the fields a client sent onto ``event``; returns the old capacity."""
    unknown_fields(data, EVENT_FIELDS | EVENT_IGNORED)
    old_capacity = event.capacity
    title = data.get("title", data.get("name"))
    if title is not None or creating:
        title = text(title, "title", 200)
        if not title:
            raise ApiError(400, _("Give the event a title."))
        event.title = title
    if "description" in data:
        event.description = text(data["description"], "description", 20_000)
    start = when(data.get("start_date"), "start_date") if "start_date" in data else None
    end = when(data.get("end_date"), "end_date") if "end_date" in data else None
    if creating and start is None:
        raise ApiError(400, _("Give the event a start_date."))
    if start is not None:
        length = (
            event.ends_at - event.starts_at if event.starts_at and event.ends_at else DEFAULT_LENGTH
        )
        event.starts_at = start
        if end is None:
            end = start + length
    if end is not None:
        event.ends_at = end
    if "capacity" in data:
        capacity = _whole_number(data["capacity"], "capacity", allow_none=True)
        event.capacity = capacity or None
    if "visibility" in data:
        visibility = data["visibility"]
        if visibility not in ("public", "private"):
            raise ApiError(400, _("visibility must be public or private."))
        event.visibility = (
            Event.Visibility.PUBLIC if visibility == "public" else Event.Visibility.UNLISTED
        )
    if "status" in data:
        if not isinstance(data["status"], str) or data["status"] not in STATUS_IN:
            raise ApiError(400, _("status must be confirmed, tentative or cancelled."))
        event.status = STATUS_IN[data["status"]]
    if "clarion:kind" in data:
        if data["clarion:kind"] not in Event.Kind.values:
            raise ApiError(
                400,
                _("clarion:kind must be one of: %(values)s.")
                % {"values": ", ".join(Event.Kind.values)},
            )
        event.kind = data["clarion:kind"]
    if "clarion:online_url" in data:
        event.online_url = text(data["clarion:online_url"], "clarion:online_url", 200)
    if "location" in data:
        location = nested(data, "location") or {}
        if "venue" in location:
            event.venue = text(location["venue"], "location.venue", 200)
        if "address_lines" in location:
            lines = location["address_lines"]
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise ApiError(400, _("location.address_lines must be a list of text."))
            event.address = ", ".join(line.strip() for line in lines if line.strip())[:300]
        if "locality" in location and location["locality"]:
            locality = text(location["locality"], "location.locality", 100)
            if locality and locality not in event.address:
                event.address = ", ".join(p for p in (event.address, locality) if p)[:300]
        if "postal_code" in location:
            event.postcode = text(location["postal_code"], "location.postal_code", 8)
        if location.get("country") not in (None, "", "GB", "UK", "gb", "uk"):
            raise ApiError(400, _("Only events in the United Kingdom (country GB) can be stored."))
    elif creating and "clarion:kind" not in data:
        # No place given: the event is held online (or its place is still to come).
        event.kind = Event.Kind.ONLINE
    return old_capacity


def _require_reach(key, event: Event) -> None:
    if not selectors.api_events(key).filter(pk=event.pk).exists():
        raise ApiError(
            403, _("This API key is limited to an area, and this event would be outside it.")
        )


@transaction.atomic
def _event_create(*, key, data: dict) -> Event:
    event = Event(host_user=key.owner, status=Event.Status.PUBLISHED)
    _apply_event_fields(event, data, creating=True)
    # No postcode to place it: it belongs where the key works.
    services.event_api_save(
        event=event, actor=key.owner, default_area=key.area or key.owner.scope_area
    )
    _require_reach(key, event)
    return event


@transaction.atomic
def _event_update(*, key, event: Event, data: dict) -> Event:
    event = Event.objects.select_for_update().get(pk=event.pk)
    old_capacity = _apply_event_fields(event, data, creating=False)
    if "location" in data and "postal_code" in (data.get("location") or {}):
        event.area = None  # placed again from the new postcode
    # No postcode to place it: it belongs where the key works.
    services.event_api_save(
        event=event, actor=key.owner, default_area=key.area or key.owner.scope_area
    )
    _require_reach(key, event)
    if old_capacity is not None and (event.capacity is None or event.capacity > old_capacity):
        services.event_capacity_raise(event=event)
    return event


def _guests(value: Any) -> int:
    if value is None:
        return 0
    return _whole_number(value, "clarion:guests") or 0


@transaction.atomic
def _attendance_record(*, key, event: Event, data: dict) -> tuple[Rsvp, bool]:
    """The record attendance helper: find or create the person (Action Network's
    signup matching, within the key's reach), then RSVP them through
    ``rsvp_create`` — a place if one is free, else the waiting list. Everything is
    committed together or not at all. Returns (rsvp, created)."""
    unknown_fields(data, ATTENDANCE_FIELDS)
    referrer = nested(data, "action_network:referrer_data") or {}
    guests = _guests(data.get("clarion:guests"))
    source = text(referrer.get("source"), "action_network:referrer_data.source", 100)
    website = text(referrer.get("website"), "action_network:referrer_data.website", 500)
    if data.get("person") is not None:
        person, _created = api_services.person_signup(
            key=key,
            data={
                "person": nested(data, "person"),
                "add_tags": data.get("add_tags"),
                "remove_tags": data.get("remove_tags"),
            },
        )
    elif data.get("_links") is not None:
        person = linked_person(key, nested(data, "_links"))
    else:
        raise ApiError(
            400, _("Give the person attending as person, or as _links with osdi:person.")
        )
    if not person.email:
        raise ApiError(400, _("A person needs an email address to RSVP to an event."))
    result = services.rsvp_create(
        event=event,
        data=services.RsvpInput(
            email=person.email,
            guests=guests,
            source=source or "api",
            referrer=website,
        ),
    )
    return result.rsvp, not result.duplicate


@background.writer("events.attendance", resource="events")
def _attendance_background(key, *, event_id: int, data: dict) -> None:
    """The record attendance helper run later (``?background_processing=true``). Safe to
    run twice: a second RSVP of the same person is a duplicate and changes nothing."""
    _require_people(key)
    _attendance_record(key=key, event=_event(key, event_id), data=data)


# --- Views -----------------------------------------------------------------------


@endpoint(methods=("GET", "POST"), resource="events")
def events(request, key):
    if request.method == "POST":
        event = _event_create(key=key, data=request_payload(request))
        return hal.hal_response(
            event_document(request, _with_counts(Event.objects.filter(pk=event.pk)).get()),
            status=201,
        )
    return collection_response(
        request,
        key,
        selectors.api_events(key),
        filters=EVENT_FILTERS,
        scope="events",
        rel="osdi:events",
        url_name="events",
        build=event_document,
        reload=_with_counts,
    )


@endpoint(methods=("GET", "PUT"), resource="events")
def event(request, key, event_id):
    found = _event(key, event_id)
    if request.method == "PUT":
        found = _event_update(key=key, event=found, data=request_payload(request))
    return hal.hal_response(
        event_document(request, _with_counts(Event.objects.filter(pk=found.pk)).get())
    )


def _attendance_page(request, key, qs, *, scope: str, url_name: str, **kwargs):
    return collection_response(
        request,
        key,
        qs,
        filters=ATTENDANCE_FILTERS,
        scope=scope,
        rel="osdi:attendances",
        url_name=url_name,
        build=attendance_document,
        **kwargs,
    )


@endpoint(methods=("GET", "POST"), resource="events")
def event_attendances(request, key, event_id):
    _require_people(key)
    found = _event(key, event_id)
    if request.method == "POST":
        data = request_payload(request)
        if background.requested(request):
            return background.queue(key=key, name="events.attendance", event_id=found.pk, data=data)
        rsvp, created = _attendance_record(key=key, event=found, data=data)
        return hal.hal_response(attendance_document(request, rsvp), status=201 if created else 200)
    return _attendance_page(
        request,
        key,
        selectors.api_rsvps(key).filter(event=found),
        scope=f"event_attendances|{found.pk}",
        url_name="event_attendances",
        event_id=found.pk,
    )


def _attendance(key, attendance_id, **where) -> Rsvp:
    pk = int_id(attendance_id)
    rsvp = selectors.api_rsvps(key).filter(pk=pk, **where).first() if pk else None
    if rsvp is None:
        raise ApiError(
            404,
            _("Couldn't find attendance with id = %(id)s") % {"id": str(attendance_id)[:50]},
        )
    return rsvp


@endpoint(methods=("GET", "PUT"), resource="events")
def event_attendance(request, key, event_id, attendance_id):
    """One attendance. A PUT with ``status: declined`` cancels the RSVP, which gives
    its places to the waiting list as cancelling on the public page does."""
    _require_people(key)
    found = _event(key, event_id)
    rsvp = _attendance(key, attendance_id, event=found)
    if request.method == "PUT":
        data = request_payload(request)
        unknown_fields(data, ATTENDANCE_FIELDS - {"person", "_links", "add_tags", "remove_tags"})
        status = data.get("status")
        if status is not None and status not in ("declined", "accepted", "tentative"):
            raise ApiError(400, _("status must be accepted or declined."))
        if status == "declined":
            services.rsvp_cancel(rsvp=rsvp, actor=key.owner)
        elif status is not None and rsvp.status == Rsvp.Status.CANCELLED:
            raise ApiError(
                400, _("A declined attendance comes back by recording the attendance again.")
            )
        rsvp.refresh_from_db()
    return hal.hal_response(attendance_document(request, rsvp))


@endpoint(methods=("GET",), resource="events")
def person_attendances(request, key, person_id):
    _require_people(key)
    person = api_person(key, person_id)
    return _attendance_page(
        request,
        key,
        selectors.api_rsvps(key).filter(person=person),
        scope=f"person_attendances|{person.pk}",
        url_name="person_attendances",
        person_id=person.pk,
    )


@endpoint(methods=("GET",), resource="events")
def person_attendance(request, key, person_id, attendance_id):
    _require_people(key)
    person = api_person(key, person_id)
    return hal.hal_response(
        attendance_document(request, _attendance(key, attendance_id, person=person))
    )


urlpatterns = [
    re_path(r"^events/?$", events, name="events"),
    re_path(r"^events/(?P<event_id>[^/]+)/?$", event, name="event"),
    re_path(
        r"^events/(?P<event_id>[^/]+)/attendances/?$", event_attendances, name="event_attendances"
    ),
    re_path(
        r"^events/(?P<event_id>[^/]+)/attendances/(?P<attendance_id>[^/]+)/?$",
        event_attendance,
        name="event_attendance",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/attendances/?$",
        person_attendances,
        name="person_attendances",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/attendances/(?P<attendance_id>[^/]+)/?$",
        person_attendance,
        name="person_attendance",
    ),
]
