"""Demo events for ``clarion load_demo``: a few weeks of local organising across the
demo areas, so the finder, the group pages and the organiser dashboard have something
to show. No RSVPs are made, so loading the demo sends no email."""

from __future__ import annotations

import datetime

from django.utils import timezone

from clarion.areas.models import Area
from clarion.areas.services import group_page_save

from .models import Event, Question, Shift
from .services import event_save

EVENTS = [
    # (days ahead, hour, kind, title, branch code, postcode, capacity, shifts, question)
    (
        2,
        10,
        Event.Kind.CANVASS,
        "Saturday doorstep in Leeds Central",
        "B-LDS1",
        "LS1 6FR",
        30,
        ["10:00–12:00", "12:00–14:00"],
        ("Have you canvassed before?", "Yes\nNo"),
    ),
    (
        4,
        18,
        Event.Kind.PHONE_BANK,
        "Phone bank: call the Riverside ward",
        "B-NCL2",
        "NE1 2XB",
        20,
        [],
        ("Which evening suits you?", ""),
    ),
    (6, 19, Event.Kind.MEETING, "Manchester branch meeting", "B-MAN1", "M1 8RA", 60, [], None),
    (
        9,
        11,
        Event.Kind.CANVASS,
        "Bristol harbourside canvass",
        "B-BRS1",
        "BS1 3DN",
        25,
        ["11:00–13:00", "13:00–15:00"],
        None,
    ),
    (12, 19, Event.Kind.SOCIAL, "Quiz night for new members", "B-BHM1", "B1 5FZ", 40, [], None),
    (15, 18, Event.Kind.FUNDRAISER, "Curry night fundraiser", "B-LEI1", "LE1 2TS", 50, [], None),
]

GET_INVOLVED = (
    "We knock on doors every Saturday morning and meet on the first Tuesday of the month. "
    "New people are always welcome: come to any event and say hello."
)


def demo_events_create() -> list[Event]:
    """Create the demo events (once: an event with the same title is left alone) and a
    "get involved" text for every region's group page."""
    made = []
    today = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    for days, hour, kind, title, code, postcode, capacity, shifts, question in EVENTS:
        if Event.objects.filter(title=title).exists():
            continue
        area = Area.objects.filter(code=code).first()
        starts = (today + datetime.timedelta(days=days)).replace(hour=hour)
        event = event_save(
            event=Event(
                title=title,
                kind=kind,
                area=area,
                postcode=postcode,
                venue="Community centre",
                description="Everyone is welcome. We'll pair you with someone experienced.",
                starts_at=starts,
                ends_at=starts + datetime.timedelta(hours=4 if shifts else 2),
                capacity=capacity,
                status=Event.Status.PUBLISHED,
                visibility=Event.Visibility.PUBLIC,
            )
        )
        for i, label in enumerate(shifts):
            Shift.objects.create(
                event=event,
                label=label,
                capacity=capacity // 2,
                starts_at=starts + datetime.timedelta(hours=2 * i),
                ends_at=starts + datetime.timedelta(hours=2 * (i + 1)),
            )
        if question:
            Question.objects.create(event=event, text=question[0], choices=question[1])
        made.append(event)
    for region in Area.objects.filter(kind=Area.Kind.REGION, get_involved=""):
        group_page_save(area=region, get_involved=GET_INVOLVED, join_tag=region.join_tag)
    return made
