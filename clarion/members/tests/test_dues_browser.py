"""Headless Chromium at phone and desktop width, axe-core clean: the Join page (with
its errors) and joining by Direct Debit as a signed-in member, with GoCardless's hosted
pages stood in for by the loopback stand-in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, check_page, check_url
from clarion.members import auth
from clarion.members.models import Membership, MembershipType
from clarion.members.services import member_session_start

from .gocardless_fake import FakeGoCardless

pytestmark = pytest.mark.browser


@pytest.fixture
def kinds(db):
    return (
        MembershipType.objects.create(name="Standard", rate_pence=500, period="monthly", order=1),
        MembershipType.objects.create(name="Concession", rate_pence=100, period="monthly", order=2),
        MembershipType.objects.create(name="Annual", rate_pence=4800, period="annual", order=3),
    )


@pytest.fixture
def fake_gc(settings):
    with FakeGoCardless() as fake:
        settings.CLARION_GOCARDLESS_ACCESS_TOKEN = fake.access_token
        settings.CLARION_GOCARDLESS_API_BASE = fake.url
        yield fake


def _page(browser):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def test_join_page_and_its_errors(browser, live_server, kinds):
    context, page = _page(browser)
    check_url(page, f"{live_server.url}/members/join/", "members-join")
    text = page.content()
    assert "£5.00 a month" in text and "£48.00 a year" in text
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_load_state()
    assert "There is a problem" in page.content()
    assert "Choose a membership type." in page.content()
    check_page(page, "members-join-errors")
    page.set_viewport_size({"width": 1280, "height": 900})
    check_page(page, "members-join-errors")
    context.close()


def test_joining_by_direct_debit_as_a_member(browser, live_server, areas, kinds, fake_gc):
    ada = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )
    context, page = _page(browser)
    context.add_cookies(
        [
            {
                "name": auth.MEMBER_COOKIE,
                "value": member_session_start(person=ada),
                "url": live_server.url,
            }
        ]
    )
    # GoCardless's hosted pages: the browser lands there and we note that it did.
    context.route(
        "https://pay-sandbox.gocardless.com/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<title>GoCardless</title>"
        ),
    )
    check_url(page, f"{live_server.url}/members/join/", "members-join-member")
    page.get_by_label("Annual").check()
    page.get_by_label("Direct Debit").check()
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url("https://pay-sandbox.gocardless.com/**")
    [br_id] = fake_gc.billing_requests
    [flow] = fake_gc.flows.values()
    fake_gc.fulfil(br_id)
    page.goto(live_server.url + urlsplit(flow["redirect_uri"]).path)
    page.wait_for_url("**/members/join/thanks/**")
    assert "Your Direct Debit is set up" in page.content()
    for size in ({"width": 390, "height": 844}, {"width": 1280, "height": 900}):
        page.set_viewport_size(size)
        check_page(page, "members-join-thanks")
    [sub] = fake_gc.subscriptions.values()
    assert (sub["amount"], sub["interval_unit"]) == (4800, "yearly")
    assert Membership.objects.get(person=ada).status == "pending"
    context.close()
