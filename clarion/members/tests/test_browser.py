"""Headless Chromium, phone-sized: ask for a sign-in link, read it from the loopback
SMTP server, sign in, change postcode on My details, open the membership card; axe-core
finds nothing serious on any of the pages on the way."""

from __future__ import annotations

import datetime
import os
import re

import pytest
from django.core.management import call_command

from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, axe_violations
from clarion.core.testing.smtp import body_text
from clarion.people.models import MembershipStatus, Person

SHOTS = os.environ.get("CLARION_SCREENSHOTS", "")


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.mark.browser
def test_sign_in_by_email_link_change_postcode_and_show_the_card(
    browser, live_server, areas, smtp_server
):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    person = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )
    Person.objects.filter(pk=person.pk).update(
        membership_status=MembershipStatus.ACTIVE,
        membership_number="M-000042",
        joined_on=datetime.date(2025, 1, 10),
        renews_on=datetime.date(2027, 1, 10),
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    found = {}

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Members' sign-in").click()
    page.wait_for_url("**/members/sign-in/")
    found["sign-in"] = axe_violations(page)
    _shot(page, "sign-in")
    page.get_by_label("Your email address").fill("ada@example.net")
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.wait_for_load_state()
    assert "Check your email" in page.content()
    found["sent"] = axe_violations(page)

    call_command("worker", "--batch")
    [message] = smtp_server.wait_for(1)
    link = re.search(r"https?://\S+/members/sign-in/\S+/", body_text(message)).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page.goto(live_server.url + path)
    found["link"] = axe_violations(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/members/")
    assert "Hello, Ada" in page.content()
    found["home"] = axe_violations(page)
    _shot(page, "home")

    page.get_by_role("link", name="My details").first.click()
    page.wait_for_url("**/members/details/")
    page.get_by_label("Postcode").fill("bs5 6xx")
    page.get_by_role("button", name="Save my details").click()
    page.wait_for_url("**/members/details/")
    assert "Your details are saved." in page.content()
    found["details"] = axe_violations(page)
    _shot(page, "details")
    person.refresh_from_db()
    assert person.postcode == "BS5 6XX" and person.area_id == areas.bristol_east.pk

    page.get_by_role("link", name="Membership").first.click()
    page.wait_for_url("**/members/membership/")
    assert "M-000042" in page.content()
    found["membership"] = axe_violations(page)
    page.get_by_role("link", name="Show my membership card").click()
    page.wait_for_url("**/members/membership/card/")
    assert page.locator(".member-card__qr").is_visible()
    assert "Ada Lovelace" in page.locator(".member-card").inner_text()
    found["card"] = axe_violations(page)
    _shot(page, "card")

    page.goto(f"{live_server.url}/members/preferences/")
    found["preferences"] = axe_violations(page)
    _shot(page, "preferences")
    page.goto(f"{live_server.url}/members/events/")
    found["events"] = axe_violations(page)
    if SHOTS:
        page.set_viewport_size({"width": 1280, "height": 900})
        for name in ("details", "membership/card", "preferences", "events", ""):
            page.goto(f"{live_server.url}/members/{name}{'/' if name else ''}")
            _shot(page, "desktop-" + (name.replace("/", "-") or "home"))

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/members/sign-in/")
    assert "You have signed out." in page.content()
    page.goto(live_server.url + path)  # the spent link
    assert "already been used or has expired" in page.content()
    context.close()
    assert found == {name: [] for name in found}
