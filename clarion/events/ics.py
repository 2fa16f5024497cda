"""iCalendar (RFC 5545) text for one event or a feed of events, written by hand:
CRLF line endings, lines folded at 75 octets, TEXT values escaped."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.urls import reverse
from django.utils import timezone

from clarion.core.site import site_host, site_url

from .models import Event


def escape_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and newlines (RFC 5545 3.3.11)."""
    value = (value or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, never splitting a UTF-8
    character; continuation lines start with one space."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    current = b""
    limit = 75
    for char in line:
        piece = char.encode("utf-8")
        if len(current) + len(piece) > limit:
            parts.append(current.decode("utf-8"))
            current = b""
            limit = 74  # the leading space counts
        current += piece
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def _utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _uid(event: Event) -> str:
    host = site_host() or "clarion"
    return f"event-{event.pk}@{host}"


def event_location(event: Event) -> str:
    if event.kind == Event.Kind.ONLINE and not (event.venue or event.address):
        return str(Event.Kind.ONLINE.label)
    return ", ".join(p for p in (event.venue, event.address, event.postcode) if p)


def _vevent(
    event: Event, *, stamp: datetime.datetime, online_url: str = "", shift=None
) -> list[str]:
    url = site_url(reverse("events:detail", kwargs={"pk": event.pk}))
    description = event.description
    if online_url:
        description = f"{online_url}\n\n{description}"
    uid, start, end, title = _uid(event), event.starts_at, event.ends_at, event.title
    if shift is not None:
        uid = uid.replace("event-", f"shift-{shift.pk}-event-", 1)
        start, end = shift.starts_at, shift.ends_at
        if shift.label:
            title = f"{title}: {shift.label}"
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        f"SUMMARY:{escape_text(title)}",
        f"LOCATION:{escape_text(event_location(event))}",
        f"DESCRIPTION:{escape_text(description)}",
        f"URL:{url}",
    ]
    if event.status == Event.Status.CANCELLED:
        lines.append("STATUS:CANCELLED")
    lines.append("END:VEVENT")
    return lines


def rsvp_calendar(event: Event, shifts, *, online_url: str = "", method: str = "") -> str:
    """One person's calendar for ``event``: an entry per shift they signed up for, or
    the whole event when they have none."""
    stamp = timezone.now()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Clarion//Events//EN",
        "CALSCALE:GREGORIAN",
    ]
    if method:
        lines.append(f"METHOD:{method}")
    for shift in shifts or [None]:
        lines.extend(_vevent(event, stamp=stamp, online_url=online_url, shift=shift))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def calendar(
    events: Iterable[Event], *, name: str = "", online_url_for=None, method: str = ""
) -> str:
    """A VCALENDAR holding ``events``; ``online_url_for(event)`` may return the online
    link to include (only for people who RSVP'd)."""
    stamp = timezone.now()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Clarion//Events//EN",
        "CALSCALE:GREGORIAN",
    ]
    if method:
        lines.append(f"METHOD:{method}")
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    for event in events:
        online = online_url_for(event) if online_url_for else ""
        lines.extend(_vevent(event, stamp=stamp, online_url=online or ""))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
