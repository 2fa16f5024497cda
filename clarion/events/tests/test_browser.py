"""Headless Chromium: find an event by postcode, RSVP, waiting list and promotion,
and check-in on a phone-sized screen."""

from __future__ import annotations

import pytest

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD
from clarion.events.models import Rsvp

from .conftest import make_event


@pytest.mark.browser
def test_find_by_postcode_rsvp_waitlist_promotion_and_check_in(
    page, browser, live_server, areas, organiser
):
    event = make_event(area=areas.leeds_central, capacity=1, title="Saturday canvass in City Ward")
    make_event(area=areas.bristol_east, postcode="BS5 6XX", title="Bristol street stall")

    page.goto(f"{live_server.url}/events/")
    page.get_by_label("Your postcode").fill("ls2 7ey")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/events/?postcode=*")
    assert "1 event near LS2 7EY" in page.content()
    assert "Bristol street stall" not in page.content()
    page.get_by_role("link", name="Saturday canvass in City Ward").click()
    page.get_by_role("textbox", name="First name").fill("Ada")
    page.get_by_role("textbox", name="Email").fill("ada@example.net")
    page.get_by_role("button", name="RSVP").click()
    page.wait_for_url("**/rsvp/**")
    assert "Ada, you're going." in page.locator(".event-status").inner_text()
    ada_manage = page.url

    friend = browser.new_context().new_page()
    friend.goto(f"{live_server.url}/events/{event.pk}/")
    assert "Full" in friend.content()
    friend.get_by_role("textbox", name="First name").fill("Bea")
    friend.get_by_role("textbox", name="Email").fill("bea@example.net")
    friend.get_by_role("textbox", name="Postcode").fill("LS1 4AP")  # in the organiser's area
    friend.get_by_role("button", name="Join the waiting list").click()
    friend.wait_for_url("**/rsvp/**")
    assert "waiting list" in friend.locator(".event-status").inner_text()
    bea_manage = friend.url

    page.goto(ada_manage)
    page.get_by_role("button", name="Cancel my RSVP").click()
    page.get_by_role("button", name="Yes, cancel my RSVP").click()
    page.wait_for_load_state()
    assert "Your RSVP is cancelled." in page.content()
    friend.goto(bea_manage)
    assert "Bea, you're going." in friend.locator(".event-status").inner_text()
    friend.context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.set_default_timeout(10_000)
    login(phone, live_server.url, organiser.email, PASSWORD)
    phone.goto(f"{live_server.url}/staff/events/{event.pk}/check-in/")
    row = phone.locator(".checkin-row", has_text="Bea")
    row.get_by_role("button", name="Attended").click()
    phone.wait_for_load_state()
    assert "Attended" in phone.locator(".checkin-row", has_text="Bea").inner_text()
    phone.context.close()
    assert Rsvp.objects.get(person__email="bea@example.net").attendance == Rsvp.Attendance.ATTENDED


@pytest.mark.browser
def test_pick_a_shift_answer_a_question_and_the_host_messages_attendees(
    page, browser, live_server, areas, smtp_server
):
    import datetime
    import re

    from django.core.management import call_command

    from clarion.core.testing import factories
    from clarion.core.testing.smtp import body_text
    from clarion.events.models import Question, Shift
    from clarion.events.selectors import host_token

    host = factories.person(
        postcode=areas.postcodes["north"], first_name="Hal", email="hal@example.net"
    )
    event = make_event(area=areas.leeds_central, title="Leaflet rota", host_person=host)
    morning = Shift.objects.create(
        event=event,
        label="Morning",
        starts_at=event.starts_at,
        ends_at=event.starts_at + datetime.timedelta(hours=1),
        capacity=3,
    )
    Shift.objects.create(
        event=event,
        label="Afternoon",
        starts_at=event.starts_at + datetime.timedelta(hours=1),
        ends_at=event.starts_at + datetime.timedelta(hours=2),
    )
    Question.objects.create(event=event, text="Can you bring a car?", required=True)

    page.goto(f"{live_server.url}/events/{event.pk}/")
    page.get_by_role("textbox", name="First name").fill("Ada")
    page.get_by_role("textbox", name="Email").fill("ada@example.net")
    page.get_by_role("button", name="RSVP").click()
    page.wait_for_load_state()
    # Nothing picked and nothing answered: the form says so and keeps what was typed.
    assert "Pick at least one shift." in page.content()
    assert "Please answer this question." in page.content()
    page.get_by_role("checkbox", name=re.compile(r"Morning .*3 left")).check()
    page.get_by_label("Can you bring a car?").fill("Yes, a small one")
    page.get_by_role("button", name="RSVP").click()
    page.wait_for_url("**/rsvp/**")
    assert "Ada, you're going." in page.locator(".event-status").inner_text()
    assert "Morning" in page.locator(".your-shifts").inner_text()
    assert "Yes, a small one" in page.content()
    assert morning.signups.get().rsvp.person.email == "ada@example.net"

    call_command("worker", "--batch")  # Ada's confirmation
    smtp_server.wait_for(1)
    before = len(smtp_server.messages)

    host_page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    host_page.set_default_timeout(10_000)
    host_page.goto(f"{live_server.url}/events/{event.pk}/host/{host_token(event)}/")
    assert "Yes, a small one" in host_page.content()  # the answer in the attendee list
    host_page.get_by_role("link", name="Message attendees").click()
    host_page.get_by_label("Subject").fill("Where to park")
    host_page.get_by_label("Message").fill("Park behind the library, Ada.")
    host_page.get_by_role("button", name="Send message").click()
    host_page.wait_for_url("**/message/?sent=1")
    assert "Your message is on its way." in host_page.content()
    host_page.context.close()

    for _ in range(5):
        call_command("worker", "--batch")
        if len(smtp_server.messages) > before:
            break
    [message] = smtp_server.wait_for(before + 1)[before:]
    assert message["To"] == "ada@example.net"
    assert message["Subject"] == "Where to park (Leaflet rota)"
    assert message["Reply-To"] == "hal@example.net"
    assert "Park behind the library, Ada." in body_text(message)
