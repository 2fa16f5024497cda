"""Headless Chromium at phone and desktop width, axe-core clean: "My local party"
(with a message to the organisers, received by the loopback SMTP server, and its
form errors) and "My actions and recruits" (joining the recruiters' table), all
without JavaScript."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.actions.models import ActionPage, Submission
from clarion.core.testing import factories
from clarion.core.testing.browser import AXE, check_page, check_url
from clarion.donations.models import Donation
from clarion.events.models import Event
from clarion.events.services import event_save
from clarion.members import auth
from clarion.members.models import RecruitersTableOptIn
from clarion.members.services import member_session_start
from clarion.people.models import Person

pytestmark = pytest.mark.browser


def _context(browser, *, javascript: bool):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, java_script_enabled=javascript
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


@pytest.fixture
def phone(browser):
    """A phone for the axe-core checks (axe itself needs JavaScript)."""
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context, page = _context(browser, javascript=True)
    yield context, page
    context.close()


@pytest.fixture
def no_js(browser):
    """A phone with JavaScript off, for filling in the forms."""
    context, page = _context(browser, javascript=False)
    yield context, page
    context.close()


def _signed_in(context, live_server, person):
    context.add_cookies(
        [
            {
                "name": auth.MEMBER_COOKIE,
                "value": member_session_start(person=person),
                "url": live_server.url,
            }
        ]
    )


def test_my_local_party_and_writing_to_the_organisers(
    phone, no_js, live_server, areas, organiser, smtp_server
):
    ada = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )
    start = (timezone.now() + datetime.timedelta(days=4)).replace(microsecond=0)
    for title, area, postcode in (
        ("Ward meeting", areas.leeds_central, "LS1 4AP"),
        ("Constituency social", areas.leeds, "LS2 7EY"),
    ):
        event_save(
            event=Event(
                area=area,
                postcode=postcode,
                title=title,
                kind=Event.Kind.MEETING,
                venue="Central Library",
                starts_at=start,
                ends_at=start + datetime.timedelta(hours=2),
            )
        )
    context, page = phone
    _signed_in(context, live_server, ada)
    check_url(page, f"{live_server.url}/members/", "B-home")
    page.get_by_role("link", name="My local party").click()
    page.wait_for_url("**/members/local/")
    check_url(page, f"{live_server.url}/members/local/", "B-local")
    text = page.content()
    assert "Ward meeting" in text and "Constituency social" in text
    assert organiser.email not in text

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Send my message").click()
    page.wait_for_load_state()
    assert "There is a problem" in page.content()
    check_page(page, "B-local-errors")

    context, page = no_js
    _signed_in(context, live_server, ada)
    page.goto(f"{live_server.url}/members/local/")
    page.get_by_role("button", name="Send my message").click()
    page.wait_for_load_state()
    assert "There is a problem" in page.content()
    page.get_by_label("Subject").fill("Leafleting")
    page.get_by_label("Your message").fill("I can deliver on my street.")
    page.get_by_role("button", name="Send my message").click()
    page.wait_for_url("**/members/local/")
    assert "Your message was sent to the organisers of The North." in page.content()
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == [organiser.email] and mail["Reply-To"] == "ada@example.net"


def test_my_actions_recruits_and_the_table(phone, no_js, live_server, areas):
    ada = factories.person(
        email="ada@example.net",
        first_name="Ada",
        last_name="Lovelace",
        postcode=areas.postcodes["north"],
    )
    petition = ActionPage.objects.create(
        kind="petition", slug="save-the-library", title="Save the library", status="live"
    )
    fund = ActionPage.objects.create(
        kind="donation", slug="winter-fund", title="Winter fund", status="live"
    )
    Submission.objects.create(
        page=petition, person=ada, email_canonical="ada@example.net", email_domain="example.net"
    )
    Donation.objects.create(
        page=fund,
        person=ada,
        amount_pence=2500,
        status=Donation.Status.SUCCEEDED,
        recurring=True,
        gateway="test",
        succeeded_at=timezone.now(),
    )
    for first, last in (("Priya", "Sharma"), ("Tom", "Okafor")):
        recruit = factories.person(first_name=first, last_name=last)
        Person.objects.filter(pk=recruit.pk).update(recruiter=ada)
    ben = factories.person(first_name="Ben", last_name="Brown", postcode=areas.postcodes["north"])
    Person.objects.filter(pk=factories.person().pk).update(recruiter=ben)
    RecruitersTableOptIn.objects.create(person=ben)

    context, page = phone
    _signed_in(context, live_server, ada)
    check_url(page, f"{live_server.url}/members/actions/", "B-actions")
    text = page.content()
    assert "Save the library" in text and "£25.00" in text
    assert "Priya S." in text and "Sharma" not in text

    context, page = no_js
    _signed_in(context, live_server, ada)
    page.goto(f"{live_server.url}/members/actions/")
    page.get_by_role("button", name="Show me in the table").click()
    page.wait_for_url("**/members/actions/#recruiters-table")
    assert "You are in your area's recruiters' table." in page.content()
    rows = page.locator("table tbody tr").all_inner_texts()
    assert [r.split("\t")[1].strip() for r in rows] == ["Ada L. you", "Ben B."]

    context, page = phone
    check_url(page, f"{live_server.url}/members/actions/", "B-actions-table")
