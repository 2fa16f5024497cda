"""Headless Chromium: "use my location" on the event finder (with and without
JavaScript) and joining a local group from its public page."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.events.models import Event
from clarion.events.services import event_save
from clarion.people.models import Person


def _event(area, postcode, title):
    start = timezone.now() + datetime.timedelta(days=3)
    return event_save(
        event=Event(
            title=title,
            kind=Event.Kind.CANVASS,
            area=area,
            postcode=postcode,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
        )
    )


@pytest.mark.browser
def test_use_my_location_finds_events_near_the_browser(browser, live_server, areas):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep")
    context = browser.new_context(
        geolocation={"latitude": 53.8010, "longitude": -1.5500}, permissions=["geolocation"]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/events/")
    page.get_by_label("Within").select_option("5")
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_url("**/events/?*lat=*")
    assert "lng=-1.550" in page.url and "radius=5" in page.url
    assert "1 event near you" in page.content()
    assert "City Ward doorstep" in page.content()
    assert "Easton doorstep" not in page.content()
    context.close()


@pytest.mark.browser
def test_location_refused_falls_back_to_the_postcode(browser, live_server, areas):
    context = browser.new_context()  # no geolocation permission granted
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/events/")
    page.get_by_role("button", name="Use my location").click()
    page.get_by_text("We could not get your location. Enter your postcode instead.").wait_for()
    assert page.evaluate("document.activeElement.name") == "postcode"
    context.close()


@pytest.mark.browser
def test_finder_works_without_javascript(browser, live_server, areas):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/events/")
    assert page.get_by_role("button", name="Use my location").count() == 0
    page.get_by_label("Your postcode").fill("LS2 7EY")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/events/?*postcode=*")
    assert "1 event near LS2 7EY" in page.content()
    context.close()


@pytest.mark.browser
def test_join_a_local_group_from_an_event_page(page, live_server, areas):
    event = _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    areas.leeds_central.get_involved = "We canvass every Saturday morning."
    areas.leeds_central.save()
    page.goto(f"{live_server.url}/events/{event.pk}/")
    page.get_by_role("link", name="Local group: City Ward").click()
    assert "We canvass every Saturday morning." in page.content()
    assert "City Ward doorstep" in page.content()
    page.get_by_role("textbox", name="First name").fill("Jo")
    page.get_by_role("textbox", name="Email").fill("jo@example.net")
    page.get_by_role("textbox", name="Postcode").fill("LS2 7EY")
    page.get_by_label("Email me about City Ward").check()
    page.get_by_role("button", name="Join the group").click()
    page.wait_for_url("**joined=1")
    assert "Thank you for joining!" in page.content()
    person = Person.objects.get(email="jo@example.net")
    assert person.tags.filter(name="Group: B-LDS1").exists()
    assert person.email_status == "subscribed"
