"""A membership card at event check-in: its QR code (the card's address or the bare
token), typed or scanned into the check-in search box, checks the member in if they
have an RSVP, or offers to add them as a walk-in; on the staff page and the host page.
Plus a browser walk through the staff page at phone width."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clarion.core.site import site_url
from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, check_page, login
from clarion.events.checkin import checkin_person
from clarion.events.models import Rsvp
from clarion.events.selectors import host_token
from clarion.events.services import RsvpInput, rsvp_create
from clarion.events.tests.conftest import make_event
from clarion.members.checkin import card_token
from clarion.members.services import member_card_get_or_create, member_card_token
from clarion.people.models import Activity

pytestmark = pytest.mark.django_db


def _card(person) -> tuple[str, str]:
    """(the card's bare token, the address its QR code holds)."""
    token = member_card_token(member_card_get_or_create(person=person))
    return token, site_url(reverse("members:card_check", kwargs={"token": token}))


@pytest.fixture
def event(areas):
    return make_event(area=areas.leeds_central, title="Branch meeting")


def _find(client, event, text, **extra):
    url = reverse("events_staff:checkin_find", kwargs={"pk": event.pk})
    return client.post(url, {"q": text, **extra})


def test_the_lookup_reads_an_address_or_a_bare_token_and_nothing_else(north_person):
    token, address = _card(north_person)
    assert card_token(address) == token and card_token(token) == token
    assert card_token(f"  {address}?from=scanner ") == token
    assert card_token("Nora North") is None and card_token("nora@example.net") is None
    assert checkin_person(address) == north_person
    assert checkin_person(token) == north_person
    assert checkin_person(token[:-2] + "xx") is None  # a forged signature
    assert checkin_person("Nora") is None


def test_a_scanned_card_checks_in_a_member_with_an_rsvp(organiser_client, event, north_person):
    rsvp = rsvp_create(event=event, data=RsvpInput(email=north_person.email)).rsvp
    _token, address = _card(north_person)
    response = _find(organiser_client, event, address)
    assert response.status_code == 302
    assert response["Location"].endswith(f"#rsvp-{rsvp.pk}")
    rsvp.refresh_from_db()
    assert rsvp.attendance == Rsvp.Attendance.ATTENDED and not rsvp.walk_in
    assert Activity.objects.filter(person=north_person, summary__startswith="Attended").exists()
    page = organiser_client.get(response["Location"]).content.decode()
    assert "Nora North is checked in." in page


def test_a_card_without_an_rsvp_is_offered_as_a_walk_in(organiser_client, event, north_person):
    token, _address = _card(north_person)
    offer = _find(organiser_client, event, token)
    assert offer.status_code == 200
    body = offer.content.decode()
    assert "has no RSVP for this event" in body and "Add Nora North as a walk-in" in body
    assert not Rsvp.objects.filter(event=event).exists()  # only offered so far
    added = _find(organiser_client, event, token, walk_in="1")
    assert added.status_code == 302
    rsvp = Rsvp.objects.get(event=event, person=north_person)
    assert rsvp.walk_in and rsvp.attendance == Rsvp.Attendance.ATTENDED
    # The same scan again finds the RSVP now and changes nothing more.
    assert _find(organiser_client, event, token, walk_in="1").status_code == 302
    assert Rsvp.objects.filter(event=event, person=north_person).count() == 1


def test_a_card_of_someone_outside_the_organisers_area_finds_nobody(
    organiser_client, event, south_person
):
    token, _address = _card(south_person)
    response = _find(organiser_client, event, token, walk_in="1")
    assert response.status_code == 302 and "?q=" in response["Location"]
    assert not Rsvp.objects.filter(person=south_person).exists()
    page = organiser_client.get(response["Location"]).content.decode()
    assert "Southern" not in page


def test_a_replaced_card_finds_nobody(organiser_client, event, north_person):
    token, _address = _card(north_person)
    north_person.member_card.delete()
    response = _find(organiser_client, event, token, walk_in="1")
    assert response.status_code == 302
    assert not Rsvp.objects.filter(event=event).exists()


def test_text_that_is_not_a_card_searches_the_list_by_name(
    organiser_client, event, areas, north_person
):
    rsvp_create(event=event, data=RsvpInput(email=north_person.email))
    other = factories.person(
        first_name="Olu", last_name="Other", email="olu@example.net", postcode="LS2 7EY"
    )
    rsvp_create(event=event, data=RsvpInput(email=other.email))
    response = _find(organiser_client, event, "nora")
    assert response.status_code == 302
    page = organiser_client.get(response["Location"]).content.decode()
    assert "Nora" in page and "Olu" not in page
    assert Rsvp.objects.filter(attendance=Rsvp.Attendance.ATTENDED).count() == 0


def test_an_analyst_searches_but_cannot_check_in(client, analyst, event, north_person):
    client.force_login(analyst)
    page = client.get(reverse("events_staff:checkin", kwargs={"pk": event.pk}))
    assert 'method="get"' in page.content.decode()
    token, _address = _card(north_person)
    assert _find(client, event, token).status_code == 403


def test_the_host_scans_a_card_too(client, north_person, areas):
    host = factories.person(first_name="Hal", email="hal@example.net", postcode="LS2 7EY")
    event = make_event(area=areas.leeds_central, host_person=host)
    rsvp = rsvp_create(event=event, data=RsvpInput(email=north_person.email)).rsvp
    walker = factories.person(
        first_name="Wen", last_name="Walker", email="wen@example.net", postcode="LS2 7EY"
    )
    token = host_token(event)
    url = reverse("events:host_find", kwargs={"pk": event.pk, "token": token})
    _bare, address = _card(north_person)
    assert client.post(url, {"q": address}).status_code == 302
    rsvp.refresh_from_db()
    assert rsvp.attendance == Rsvp.Attendance.ATTENDED
    walker_token, _address = _card(walker)
    offer = client.post(url, {"q": walker_token})
    assert offer.status_code == 200 and "Add Wen Walker as a walk-in" in offer.content.decode()
    assert client.post(url, {"q": walker_token, "walk_in": "1"}).status_code == 302
    assert Rsvp.objects.get(event=event, person=walker).walk_in
    bad = reverse("events:host_find", kwargs={"pk": event.pk, "token": "bad-token"})
    assert client.post(bad, {"q": walker_token}).status_code == 404


@pytest.mark.browser
def test_browser_check_in_by_card_at_phone_width(browser, live_server, areas, organiser):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    event = make_event(area=areas.leeds_central, title="Branch meeting")
    going = factories.person(
        first_name="Gita", last_name="Going", email="gita@example.net", postcode="LS2 7EY"
    )
    rsvp_create(event=event, data=RsvpInput(email=going.email))
    walker = factories.person(
        first_name="Wen", last_name="Walker", email="wen@example.net", postcode="LS2 7EY"
    )
    _token, going_address = _card(going)
    walker_token, _address = _card(walker)
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    login(page, live_server.url, organiser.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/staff/events/{event.pk}/check-in/")
    check_page(page, "event-checkin-find")
    # A scanner types the card's address and presses Enter.
    page.get_by_label("Name, email address or membership card").fill(going_address)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Gita Going is checked in." in page.content()
    check_page(page, "event-checkin-found")
    page.get_by_label("Name, email address or membership card").fill(walker_token)
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    check_page(page, "event-checkin-offer")
    with page.expect_navigation():
        page.get_by_role("button", name="Add Wen Walker as a walk-in and check in").click()
    assert "Wen Walker added as a walk-in and checked in." in page.content()
    assert Rsvp.objects.get(event=event, person=walker).attendance == Rsvp.Attendance.ATTENDED
    context.close()


@pytest.mark.browser
def test_browser_host_page_search_box_at_phone_width(browser, live_server, areas):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    host = factories.person(first_name="Hal", email="hal@example.net", postcode="LS2 7EY")
    event = make_event(area=areas.leeds_central, title="Street stall", host_person=host)
    going = factories.person(
        first_name="Gita", last_name="Going", email="gita@example.net", postcode="LS2 7EY"
    )
    rsvp = rsvp_create(event=event, data=RsvpInput(email=going.email)).rsvp
    token, _address = _card(going)
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/events/{event.pk}/host/{host_token(event)}/")
    check_page(page, "event-host-find")
    page.get_by_label("Name, email address or membership card").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    rsvp.refresh_from_db()
    assert rsvp.attendance == Rsvp.Attendance.ATTENDED
    check_page(page, "event-host-found")
    context.close()
