"""A North and a South full of people who climb, skip and fall off the ladder, for the
funnel's tests. Dates are in 2026; the period the tests read is 1 January–30 June 2026
(Europe/London), so some activity falls just inside and some just outside it."""

from __future__ import annotations

import datetime as dt
import itertools

from clarion.actions.models import ActionPage, Submission
from clarion.core.testing import factories
from clarion.events.models import Event, Rsvp
from clarion.people.models import Person

START = dt.date(2026, 1, 1)
END = dt.date(2026, 6, 30)
UTC = dt.UTC
_n = itertools.count(1)


def at(month: int, day: int, year: int = 2026, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def page(title: str = "Save the library", area=None) -> ActionPage:
    n = next(_n)
    return ActionPage.objects.create(
        kind=ActionPage.Kind.PETITION,
        slug=f"funnel-page-{n}",
        title=title,
        status=ActionPage.Status.LIVE,
        area=area,
    )


def act(person: Person, on: dt.datetime, *, action_page=None, status=Submission.Status.CONFIRMED):
    action_page = action_page or page()
    email = person.email or f"p{person.pk}@example.net"
    return Submission.objects.create(
        page=action_page,
        person=person,
        email_canonical=email,
        email_domain=email.split("@")[1],
        status=status,
        created_at=on,
    )


def event(area, starts: dt.datetime, *, host=None, status=Event.Status.PUBLISHED, title="Stall"):
    return Event.objects.create(
        title=title,
        kind=Event.Kind.CANVASS,
        area=area,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        host_person=host,
        status=status,
    )


def rsvp(
    person, ev, made: dt.datetime, *, status=Rsvp.Status.GOING, attendance=None, walk_in=False
):
    return Rsvp.objects.create(
        event=ev,
        person=person,
        created_at=made,
        status=status,
        attendance=attendance or Rsvp.Attendance.UNKNOWN,
        walk_in=walk_in,
    )


ATTENDED = Rsvp.Attendance.ATTENDED


def build(areas) -> dict:
    """The North's expected figures for 1 January–30 June 2026 are in docs of each test."""
    north_pc, south_pc = areas.postcodes["north"], areas.postcodes["south"]
    p = {
        name: factories.person(postcode=pc, first_name=name.title(), last_name="Funnel")
        for name, pc in (
            ("ann", north_pc),
            ("bob", north_pc),
            ("cat", north_pc),
            ("dan", north_pc),
            ("eve", north_pc),
            ("fay", north_pc),
            ("gus", north_pc),
            ("hal", north_pc),
            ("ivy", north_pc),
            ("jo", north_pc),
            ("kit", north_pc),
            ("sam", south_pc),
            ("sue", south_pc),
        )
    }
    north, south = areas.leeds_central, areas.bristol_east
    mar1 = event(north, at(3, 1))
    apr1 = event(north, at(4, 1))
    jun1 = event(None, at(6, 1))  # a national event: attending it counts for a North person
    dec20 = event(north, at(12, 20, 2025))
    # ann climbs every rung: acts, RSVPs, attends twice, hosts.
    act(p["ann"], at(2, 10))
    rsvp(p["ann"], mar1, at(2, 15), attendance=ATTENDED)
    rsvp(p["ann"], apr1, at(3, 5), attendance=ATTENDED)
    event(north, at(5, 10), host=p["ann"])
    # bob acts and stops.
    act(p["bob"], at(1, 5))
    # cat acts, RSVPs and cancels.
    act(p["cat"], at(3, 3))
    rsvp(p["cat"], apr1, at(3, 4), status=Rsvp.Status.CANCELLED)
    # dan acts, RSVPs and does not come.
    act(p["dan"], at(3, 20))
    rsvp(p["dan"], apr1, at(3, 21), attendance=Rsvp.Attendance.NO_SHOW)
    # eve hosts without ever RSVPing or acting online.
    event(north, at(4, 20), host=p["eve"])
    # fay acts and walks in.
    act(p["fay"], at(2, 20))
    rsvp(p["fay"], mar1, at(3, 1), attendance=ATTENDED, walk_in=True)
    # gus acted and RSVP'd before the period, attends inside it.
    act(p["gus"], at(12, 2, 2025))
    rsvp(p["gus"], jun1, at(12, 15, 2025), attendance=ATTENDED)
    # hal attends twice, once before the period (so only "attended" in it).
    rsvp(p["hal"], dec20, at(12, 1, 2025), attendance=ATTENDED)
    rsvp(p["hal"], mar1, at(12, 2, 2025), attendance=ATTENDED)
    # ivy's action waits for email confirmation; her hosted events are cancelled or later.
    act(p["ivy"], at(2, 1), status=Submission.Status.PENDING)
    event(north, at(3, 15), host=p["ivy"], status=Event.Status.CANCELLED)
    event(north, at(7, 15), host=p["ivy"])
    # jo acts a minute before the period starts (London time), kit half an hour before
    # it ends (23:30 BST on 30 June).
    act(p["jo"], at(12, 31, 2025, hour=23, minute=59))
    act(p["kit"], at(6, 30, hour=22, minute=30))
    # The South: sam climbs every rung, sue acts.
    s_ev1, s_ev2 = event(south, at(3, 2)), event(south, at(4, 2))
    act(p["sam"], at(2, 1))
    rsvp(p["sam"], s_ev1, at(2, 3), attendance=ATTENDED)
    rsvp(p["sam"], s_ev2, at(3, 3), attendance=ATTENDED)
    event(south, at(5, 1), host=p["sam"])
    act(p["sue"], at(1, 9))
    return p


# The North, 1 January–30 June 2026.
NORTH_COUNTS = {"action": 6, "rsvp": 3, "attended": 4, "returned": 1, "hosted": 2}
NORTH_FROM_PREVIOUS = {"rsvp": 3, "attended": 2, "returned": 1, "hosted": 1}
NORTH_MEDIANS = {"rsvp": 5, "attended": 7, "returned": 31, "hosted": 39}
SOUTH_COUNTS = {"action": 2, "rsvp": 1, "attended": 1, "returned": 1, "hosted": 1}
