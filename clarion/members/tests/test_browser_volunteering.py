"""Headless Chromium: a member signed in by email link stops one kind of email on
Preferences and ticks skills and times on Volunteering, at phone and desktop width;
the pages fit the screen and axe-core finds nothing serious."""

from __future__ import annotations

import pytest

from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, DESKTOP, PHONE, check_page
from clarion.mailings.categories import starting_categories_create
from clarion.mailings.models import OptOut
from clarion.members import auth
from clarion.members.services import secret_hash, signin_link_create
from clarion.people.models import EmailStatus, Person
from clarion.people.services import tags_by_name


@pytest.mark.browser
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_member_ticks_email_categories_and_volunteering(browser, live_server, areas, size):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    starting_categories_create()
    tags_by_name(["Skill: First aid", "Skill: Driving", "Interest: Events", "Available: Weekends"])
    person = factories.person(
        email="vi@example.net", first_name="Vi", postcode=areas.postcodes["north"]
    )
    Person.objects.filter(pk=person.pk).update(email_status=EmailStatus.SUBSCRIBED)
    base = live_server.url
    context = browser.new_context(viewport=size, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    context.add_cookies([{"name": auth.BROWSER_COOKIE, "value": "vol-browser", "url": base}])
    token = signin_link_create(person=person, browser_hash=secret_hash("vol-browser"))
    page.goto(f"{base}/members/sign-in/{token}/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/members/")

    page.goto(f"{base}/members/preferences/")
    page.get_by_label("Fundraising appeals", exact=False).uncheck()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_url("**/members/preferences/")
    assert "Your choices are saved." in page.content()
    assert not page.get_by_label("Fundraising appeals", exact=False).is_checked()
    assert page.get_by_label("Events near me", exact=False).is_checked()
    check_page(page, "C-preferences")
    assert list(OptOut.objects.filter(person=person).values_list("category", flat=True)) == [
        "fundraising"
    ]

    page.get_by_role("link", name="Volunteering").click()
    page.wait_for_url("**/members/volunteering/")
    page.get_by_label("First aid").check()
    page.get_by_label("Weekends").check()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_url("**/members/volunteering/")
    assert "your volunteering choices are saved" in page.content()
    assert page.get_by_label("First aid").is_checked()
    assert not page.get_by_label("Driving").is_checked()
    check_page(page, "C-volunteering")
    assert set(person.taggings.values_list("tag__name", flat=True)) == {
        "Skill: First aid",
        "Available: Weekends",
    }
    context.close()
