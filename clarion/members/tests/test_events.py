"""My events: the member's RSVPs, changed through the events' own manage page or
cancelled here through the events service, and the events they host with the host
tools one click away."""

from __future__ import annotations

import datetime

from django.utils import timezone

from clarion.events.models import Event, Rsvp
from clarion.events.services import RsvpInput, event_save, rsvp_create


def _event(areas, title, *, days=3, **fields):
    start = (timezone.now() + datetime.timedelta(days=days)).replace(microsecond=0)
    return event_save(
        event=Event(
            area=areas.leeds_central,
            postcode="LS1 4AP",
            title=title,
            kind=Event.Kind.MEETING,
            venue="Library",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            **fields,
        )
    )


def test_member_sees_their_rsvps_and_changes_one_on_the_manage_page(member_client, member, areas):
    event = _event(areas, "Branch meeting")
    past = _event(areas, "Last month's meeting")
    rsvp = rsvp_create(event=event, data=RsvpInput(email=member.email)).rsvp
    rsvp_create(event=past, data=RsvpInput(email=member.email))
    month_ago = timezone.now() - datetime.timedelta(days=30)
    Event.objects.filter(pk=past.pk).update(
        starts_at=month_ago, ends_at=month_ago + datetime.timedelta(hours=2)
    )
    page = member_client.get("/members/events/").content.decode()
    assert "Branch meeting" in page and "Going" in page
    assert "Last month" not in page
    manage = f"/events/{event.pk}/rsvp/"
    assert manage in page
    link = page.split(manage, 1)[1].split('"', 1)[0]
    assert member_client.get(manage + link).status_code == 200
    assert rsvp.person_id == member.pk


def test_member_cancels_an_rsvp_and_the_waiting_list_moves_up(
    member_client, member, areas, south_person
):
    event = _event(areas, "Small meeting", capacity=1)
    mine = rsvp_create(event=event, data=RsvpInput(email=member.email)).rsvp
    waiting = rsvp_create(event=event, data=RsvpInput(email=south_person.email)).rsvp
    assert waiting.status == Rsvp.Status.WAITLISTED
    ask = member_client.get("/members/events/cancel/", {"rsvp": mine.pk})
    assert ask.status_code == 200 and "Small meeting" in ask.content.decode()
    mine.refresh_from_db()
    assert mine.status == Rsvp.Status.GOING  # asking first changes nothing
    response = member_client.post("/members/events/cancel/", {"rsvp": mine.pk})
    assert response.status_code == 302
    mine.refresh_from_db()
    waiting.refresh_from_db()
    assert mine.status == Rsvp.Status.CANCELLED and waiting.status == Rsvp.Status.GOING
    page = member_client.get("/members/events/").content.decode()
    assert "is cancelled" in page and "no upcoming events" in page


def test_member_cannot_cancel_someone_elses_rsvp(member_client, areas, south_person):
    event = _event(areas, "Meeting")
    theirs = rsvp_create(event=event, data=RsvpInput(email=south_person.email)).rsvp
    assert member_client.post("/members/events/cancel/", {"rsvp": theirs.pk}).status_code == 404
    assert member_client.post("/members/events/cancel/", {"rsvp": "x"}).status_code == 404
    assert member_client.get("/members/events/cancel/", {"rsvp": theirs.pk}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Rsvp.Status.GOING
    assert "Meeting" not in member_client.get("/members/events/").content.decode()


def test_events_the_member_hosts_link_to_the_host_tools(member_client, member, areas):
    hosted = _event(areas, "My street stall", host_person=member)
    page = member_client.get("/members/events/").content.decode()
    assert "My street stall" in page and "Host tools" in page
    host = f"/events/{hosted.pk}/host/"
    link = page.split(host, 1)[1].split('"', 1)[0]
    assert member_client.get(host + link).status_code == 200


def test_my_events_offers_to_propose_one_and_to_find_more(member_client, member, areas):
    page = member_client.get("/members/events/").content.decode()
    assert 'href="/events/propose/"' in page
    assert member_client.get("/events/propose/").status_code == 200
    event = _event(areas, "Leafleting")  # with an RSVP the finder link moves under "More"
    rsvp_create(event=event, data=RsvpInput(email=member.email, postcode=member.postcode))
    page = member_client.get("/members/events/").content.decode()
    assert "Leafleting" in page and "Find an event near you" in page
