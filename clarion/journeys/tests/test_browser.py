"""Petition → donate in the browser, with real SMTP on loopback, then an "ask a human"
to-do marked done on the area organiser's dashboard.

Staff make the journey from the template library and publish it; a supporter signs on
the public page, gets the thank-you on the SMTP sink, follows its tracked link, does
not give, gets the ask after the wait, gives through the test gateway and leaves at
the goal; the journey's page shows one entered, one converted and the money. Then the
"came to an event → ask to host" template puts a to-do on the North organiser's
dashboard, where they mark it done.

Between browser steps the test drives the engine in-process: ``engine.advance_due``
with a ``now`` moved past the waits (as the other journey tests do), and the task
worker (``worker --batch``) to deliver the ledger's messages. The check-in that
triggers the second journey is made through ``events.services``. Every page visited
is checked by axe-core (``check_page``); the dashboard and the journey's page at
phone and desktop width.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.core.testing.browser import DESKTOP, PHONE, check_page, login
from clarion.core.testing.factories import PASSWORD
from clarion.core.testing.smtp import body_html
from clarion.journeys import engine
from clarion.journeys.models import Enrolment, Journey, Todo
from clarion.mailings.models import Event as MailingEvent
from clarion.people.models import Person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


JOURNEY_SUBJECTS = ("Thank you for signing, Ada", "Will you chip in, Ada?")


def _journey_mail(smtp_server) -> list:
    """The journey's messages to Ada (the petition's own thank-you is not one)."""
    return [m for m in smtp_server.to("ada@example.net") if m["Subject"] in JOURNEY_SUBJECTS]


def _work(smtp_server, expected: int) -> None:
    """Run queued tasks (the senders) until ``expected`` journey messages reached the
    sink, or ten rounds passed."""
    for _ in range(10):
        call_command("worker", "--batch")
        smtp_server.wait_for(len(smtp_server.messages) + 1, timeout=0.3)
        if len(_journey_mail(smtp_server)) >= expected:
            return


def _both_widths(page, url: str, name: str) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(url)
        check_page(page, name)


def test_petition_donate_journey_in_the_browser_and_the_organisers_to_do(
    browser,
    live_server,
    admin,
    organiser,
    areas,
    smtp_server,
    mail_settings,
    from_addresses,
    settings,
):
    settings.SITE_URL = live_server.url
    # bypass_csp lets the test inject axe-core; the pages themselves load no inline script.
    page = browser.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    settings.CLARION_ACTION_COUNT_SECONDS = 0
    from clarion.actions.services import page_save

    page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION,
            slug="save-the-library",
            title="Save the library",
            status=ActionPage.Status.LIVE,
            body="Our library is under threat.",
            goal=100,
            ask_postcode=True,
        )
    )
    page_save(
        page=ActionPage(
            kind=ActionPage.Kind.DONATION,
            slug="fund-us",
            title="Fund us",
            status=ActionPage.Status.LIVE,
            suggested_amounts=[500, 1000],
        )
    )

    # Staff make "petition → donate" from the library and publish it.
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/journeys/")
    check_page(page, "journeys-list")
    page.get_by_label("Start from").select_option(label="Petition signer → donor")
    page.get_by_label("From name").fill("Clarion HQ")
    page.get_by_label("From address").fill("hq@clarion.example.org")
    page.get_by_role("button", name="Make the journey").click()
    page.wait_for_url("**/staff/journeys/*/")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_load_state()
    journey = Journey.objects.get()
    assert journey.status == Journey.Status.PUBLISHED
    check_page(page, "journey-published")

    # A supporter signs on the public page, in their own browser.
    public = browser.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    public.goto(f"{live_server.url}/act/save-the-library/")
    check_page(public, "petition")
    public.get_by_role("textbox", name="First name", exact=True).fill("Ada")
    public.get_by_role("textbox", name="Email", exact=True).fill("ada@example.net")
    public.get_by_role("textbox", name="Postcode", exact=True).fill(areas.postcodes["north"])
    public.locator("input[name=email_consent]").check()
    public.get_by_role("button", name="Sign the petition").click()
    public.wait_for_url("**/thanks/**")
    ada = Person.objects.get(email="ada@example.net")
    assert ada.area is not None and ada.area.path.startswith(areas.north.path)
    assert Enrolment.objects.filter(journey=journey, person=ada).exists()

    # Email 1 arrives; Ada follows its tracked link.
    start = timezone.now()
    engine.advance_due(now=start)
    _work(smtp_server, 1)
    (thanks,) = _journey_mail(smtp_server)
    assert thanks["Subject"] == "Thank you for signing, Ada"
    tracked = re.findall(r'href="([^"]*/m/c/\?[^"]+)"', body_html(thanks))
    assert tracked, "the thank-you has a tracked link"
    public.goto(tracked[0].replace("&amp;", "&"))
    public.wait_for_load_state()
    assert public.url.startswith(live_server.url)
    assert MailingEvent.objects.filter(kind=MailingEvent.Kind.CLICK, recipient__person=ada).exists()

    # She does not give; after the (moved) two-day wait the ask arrives.
    engine.advance_due(now=start + timedelta(hours=47))
    _work(smtp_server, 2)
    assert len(_journey_mail(smtp_server)) == 1
    engine.advance_due(now=start + timedelta(days=2, minutes=1))
    _work(smtp_server, 2)
    assert [m["Subject"] for m in _journey_mail(smtp_server)] == list(JOURNEY_SUBJECTS)

    # She gives through the test gateway, and leaves at the goal when her wait ends.
    public.goto(f"{live_server.url}/act/fund-us/")
    check_page(public, "donate")
    public.get_by_text("£5", exact=False).first.click()
    public.get_by_role("textbox", name="First name", exact=True).fill("Ada")
    public.get_by_role("textbox", name="Email", exact=True).fill("ada@example.net")
    public.locator("form.act-form button[type=submit], form button.act-submit").first.click()
    public.wait_for_url("**/donate/test-checkout/**")
    check_page(public, "test-checkout")
    public.get_by_role("button", name="Pay £5.00").click()
    public.wait_for_url("**/act/fund-us/thanks/**")
    public.context.close()
    assert ada.donations.get().status == "succeeded"
    engine.advance_due(now=start + timedelta(days=6))
    assert Enrolment.objects.get(journey=journey, person=ada).state == Enrolment.State.CONVERTED

    _both_widths(page, f"{live_server.url}/staff/journeys/{journey.pk}/", "journey-figures")
    totals = page.locator("#journey-totals").inner_text()
    assert re.search(r"Entered\s+1\b", totals)
    assert re.search(r"Reached the goal\s+1\b", totals)
    assert "£5.00" in totals
    assert [m["Subject"] for m in _journey_mail(smtp_server)] == list(JOURNEY_SUBJECTS)

    # "Came to an event → ask to host": Ada is checked in; the North organiser is asked.
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/staff/journeys/")
    page.get_by_label("Start from").select_option(label="Came to an event → ask to host")
    page.get_by_label("From name").fill("Clarion HQ")
    page.get_by_label("From address").fill("hq@clarion.example.org")
    page.get_by_role("button", name="Make the journey").click()
    page.wait_for_url("**/staff/journeys/*/")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_load_state()
    host_ask = Journey.objects.exclude(pk=journey.pk).get()
    assert host_ask.status == Journey.Status.PUBLISHED

    from clarion.events.models import Event
    from clarion.events.services import RsvpInput, checkin_mark, event_save, rsvp_create

    began = timezone.now() + timedelta(minutes=30)
    meeting = event_save(
        event=Event(
            title="Library meeting",
            kind=Event.Kind.MEETING,
            area=areas.north,
            postcode=areas.postcodes["north"],
            starts_at=began,
            ends_at=began + timedelta(hours=1),
        )
    )
    rsvp = rsvp_create(event=meeting, data=RsvpInput(email="ada@example.net")).rsvp
    checkin_mark(rsvp=rsvp, attendance="attended", actor=organiser)
    engine.advance_due()
    todo = Todo.objects.get(journey=host_ask)
    assert (todo.person, todo.assignee, todo.status) == (ada, organiser, Todo.Status.OPEN)

    # The North organiser sees it on their dashboard and marks it done there.
    org = browser.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    login(org, live_server.url, organiser.email, PASSWORD)
    _both_widths(org, f"{live_server.url}/staff/dashboard/", "dashboard-todos")
    item = org.locator(f'[data-todo="{todo.pk}"]')
    assert "Ada" in item.inner_text() and "phone them about hosting" in item.inner_text()
    assert item.get_by_role("link", name=re.compile("Ada")).get_attribute("href") == (
        f"/staff/people/{ada.pk}/"
    )
    item.get_by_label("Note (optional)").fill("Will host in May")
    item.get_by_role("button", name="Done").click()
    org.wait_for_url("**/staff/dashboard/")
    check_page(org, "dashboard-todo-done")
    assert org.locator(f'[data-todo="{todo.pk}"]').count() == 0
    org.context.close()
    todo.refresh_from_db()
    assert (todo.status, todo.outcome_note, todo.done_by) == ("done", "Will host in May", organiser)
