"""Testing a journey in the browser, with real SMTP on loopback.

Staff make "petition → donate" from the library, choose a different trigger on the
trigger page, then test it with Ada: search her by name, start the test, and read the
test's log on the journey's page. The thank-you reaches the SMTP sink addressed to the
staff member, marked "[TEST]" and merged as Ada; after the shortened wait (the clock's
task, run in-process) the ask follows. Ada gets nothing, nothing is counted, and the
journey goes back to draft and is then published. Each page is checked by axe-core at
phone and desktop width; screenshots go to ``CLARION_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import re
import time

import pytest

from clarion.core.testing import factories
from clarion.core.testing.browser import DESKTOP, PHONE, check_page, login
from clarion.core.testing.factories import PASSWORD
from clarion.core.testing.smtp import body_text
from clarion.journeys.models import Enrolment, Journey, TestRun
from clarion.journeys.tasks import journeys_advance
from clarion.people.models import EmailStatus
from clarion.people.services import email_status_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _both_widths(page, name: str) -> None:
    """The page as it is (a form's errors stay shown), at phone and desktop width."""
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        check_page(page, name)


def test_staff_test_a_journey_with_one_person_and_read_its_log(
    browser, live_server, admin, areas, smtp_server, mail_settings, from_addresses, settings
):
    settings.SITE_URL = live_server.url
    settings.CLARION_JOURNEY_TEST_WAIT_SECONDS = 1
    ada = factories.person(
        postcode=areas.postcodes["north"], first_name="Ada", last_name="Lovelace",
        email="ada@example.net",
    )  # fmt: skip
    email_status_set(person=ada, status=EmailStatus.SUBSCRIBED)
    page = browser.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/journeys/")
    page.get_by_label("Start from").select_option(label="Petition signer → donor")
    page.get_by_label("From name").fill("Clarion HQ")
    page.get_by_label("From address").fill("hq@clarion.example.org")
    page.get_by_role("button", name="Make the journey").click()
    page.wait_for_url("**/staff/journeys/*/")
    journey = Journey.objects.get()
    detail = page.url

    # The trigger: kind first, then its settings; a bad value is a form error.
    page.get_by_role("link", name="Change the trigger").click()
    _both_widths(page, "jtest-trigger")
    page.get_by_label("What enters people").select_option(label="Gave")
    page.get_by_role("button", name="Show its settings").click()
    page.get_by_label("Which gifts").select_option(label="A gift of at least an amount")
    page.get_by_role("button", name="Save the trigger").click()
    assert "Give the amount." in page.locator("#error-summary").inner_text()
    _both_widths(page, "jtest-trigger-error")
    page.get_by_label("Which gifts").select_option(label="A gift of at least an amount")
    page.get_by_label("Amount (£)").fill("20")
    page.get_by_role("button", name="Save the trigger").click()
    page.wait_for_url(detail)
    journey.refresh_from_db()
    assert journey.trigger_type == "gave"
    assert journey.trigger_config == {"which": "at_least", "amount": "20.00"}
    assert "Gave" in page.locator("dl.details").first.inner_text()

    # Test it with Ada: find her by name, start, read the log.
    page.get_by_role("link", name="Test this journey").click()
    _both_widths(page, "jtest-test-page")
    page.get_by_label("Find the person to test with").fill("Lovelace")
    page.get_by_role("button", name="Find").click()
    _both_widths(page, "jtest-pick-person")
    page.get_by_role("button", name="Test with Ada Lovelace").click()
    page.wait_for_url(re.compile(r".*/staff/journeys/\d+/#test-run$"))
    journey.refresh_from_db()
    assert journey.status == Journey.Status.TEST
    log = page.locator("#test-run-log")
    assert "Test email sent" in log.inner_text()
    assert "Started waiting" in log.inner_text()
    (thanks,) = smtp_server.wait_for(1)
    assert thanks["To"].endswith("<admin@example.org>")
    assert thanks["Subject"] == "[TEST] Thank you for signing, Ada"
    assert "Dear Ada" in body_text(thanks)

    # After the shortened wait the clock's task moves the test on: the ask follows.
    time.sleep(1.1)
    journeys_advance.call()
    smtp_server.wait_for(2)
    page.reload()
    assert "[TEST] Will you chip in, Ada?" in [m["Subject"] for m in smtp_server.messages]
    _both_widths(page, "jtest-journey-log")
    time.sleep(1.1)
    journeys_advance.call()
    page.reload()
    rows = page.locator("#test-run-log tbody tr")
    assert rows.last.get_attribute("data-outcome") == "completed"
    assert page.locator("#test-run .badge").inner_text() == "Completed"
    assert smtp_server.to("ada@example.net") == []
    assert not Enrolment.objects.exists()
    totals = page.locator("#journey-totals").inner_text()
    assert re.search(r"Entered\s+0\b", totals)

    # Back to draft, then publish.
    page.get_by_role("button", name="Back to draft").click()
    page.wait_for_load_state()
    journey.refresh_from_db()
    assert journey.status == Journey.Status.DRAFT
    assert page.get_by_role("link", name="Edit steps").count() == 1
    page.get_by_role("button", name="Publish").click()
    page.wait_for_load_state()
    journey.refresh_from_db()
    assert journey.status == Journey.Status.PUBLISHED
    assert TestRun.objects.get().state == TestRun.State.COMPLETED
    _both_widths(page, "jtest-published-with-log")
