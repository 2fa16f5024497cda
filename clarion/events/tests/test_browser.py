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
