"""An organiser's first hour, task by task, in headless Chromium as the North organiser:
build and publish a petition; make "signed that petition, in my area" a segment;
compose, test, schedule, cancel, then send a mailing to it (real SMTP on loopback);
approve a member's event; moderate a Q&A with the keyboard only.

Each task pins what it costs in the browser (``Steps``: page loads, redirects included,
and form submissions, counted from the first click after landing on the staff home
page), so a change that adds a step to a first-hour task fails here and is a decision,
not an accident. docs/first-hour.md lists the figures."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from clarion.core.testing.browser import AXE, DESKTOP, Steps, check_page, login
from clarion.core.testing.factories import PASSWORD
from clarion.core.testing.smtp import smtp_server  # noqa: F401


@pytest.fixture
def staff_page(browser):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP)  # lets axe be injected
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _home(page, live_server, user) -> Steps:
    login(page, live_server.url, user.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/")
    return Steps(page)


def _north_petition(areas):
    """A live North petition signed by two North people and one South person."""
    from clarion.actions.models import ActionPage, Submission
    from clarion.actions.tests.conftest import make_page
    from clarion.core.testing import factories
    from clarion.people.models import EmailStatus
    from clarion.people.services import email_status_set

    page = make_page(slug="keep-buses", title="Keep Leeds buses running", area=areas.north)
    pc = areas.postcodes
    people = []
    for first, postcode in (("Ann", pc["north"]), ("Ben", pc["north2"]), ("Cat", pc["south"])):
        person = factories.person(
            first_name=first, postcode=postcode, email=f"{first.lower()}@example.net"
        )
        email_status_set(person=person, status=EmailStatus.SUBSCRIBED)
        Submission.objects.create(
            page=page,
            person=person,
            email_canonical=person.email,
            email_domain="example.net",
            status=Submission.Status.CONFIRMED,
        )
        people.append(person)
    assert page.kind == ActionPage.Kind.PETITION
    return page, people


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_task_1_build_and_publish_a_petition(staff_page, live_server, organiser):
    from clarion.actions.models import ActionPage

    page = staff_page
    steps = _home(page, live_server, organiser)
    page.get_by_role("link", name="Action pages").first.click()
    page.get_by_role("link", name="New page").click()
    page.get_by_label("Petition").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Title").fill("Keep Leeds buses running")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("link", name="Publish").click()
    page.get_by_role("button", name="Publish now").click()
    expect(page.locator(".messages")).to_contain_text("The page is live.")
    built = ActionPage.objects.get()
    assert (built.status, built.area, built.slug) == (
        "live",
        organiser.area,
        "keep-leeds-buses-running",
    )
    check_page(page, "first-hour-petition-live")
    assert steps.counts == (6, 2)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_task_2_signed_that_petition_in_my_area_as_a_segment(
    staff_page, live_server, areas, organiser
):
    from clarion.people.models import Segment
    from clarion.people.segments.selectors import segment_count

    _north_petition(areas)
    page = staff_page
    steps = _home(page, live_server, organiser)
    page.get_by_role("link", name="Action pages").first.click()
    page.get_by_role("link", name="Keep Leeds buses running").click()
    page.get_by_role("button", name="Make a segment of these").click()
    expect(page.locator("#segment-count")).to_contain_text("2")
    segment = Segment.objects.get()
    # The North's two signers, not the South's one: "in my area" is the scope itself.
    assert segment_count(organiser, segment) == 2
    check_page(page, "first-hour-segment")
    assert steps.counts == (3, 1)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_task_3_compose_test_schedule_cancel_then_send_a_mailing(
    staff_page,
    live_server,
    areas,
    organiser,
    smtp_server,  # noqa: F811
    settings,
):
    from clarion.actions.exports import signers_segment_create
    from clarion.mailings.models import FromAddress, Mailing

    settings.SITE_URL = live_server.url
    settings.CLARION_MAILINGS_VERP_DOMAIN = "bounces.example.org"
    settings.CLARION_MAILINGS_SENDERS = 1
    FromAddress.objects.create(area=areas.north, email="north@clarion.example.org", name="North")
    petition, _people = _north_petition(areas)
    segment = signers_segment_create(user=organiser, page=petition)

    page = staff_page
    steps = _home(page, live_server, organiser)
    page.get_by_role("link", name="Segments").first.click()
    page.get_by_role("link", name=segment.name).click()
    page.get_by_role("link", name="Email these people").click()
    expect(page.locator("#id_segment")).to_have_value(str(segment.pk))
    page.get_by_label("Internal name").fill("Bus petition follow-up")
    page.locator("#id_subject").fill("{{ first_name }}, the buses vote is on Monday")
    body = page.get_by_role("textbox", name="Body", exact=True)
    body.press("End")
    body.type("Thank you for signing. Come to the council meeting.")
    page.get_by_role("button", name="Save mailing").click()
    expect(page.locator("#recipient-count")).to_contain_text("2 people will receive")

    # A test to the organiser's own address.
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator(".messages")).to_contain_text("test")
    call_command("worker", "--batch")
    [test] = smtp_server.wait_for(1)
    assert test.envelope_to == [organiser.email]

    # Schedule for tomorrow, then change one's mind.
    tomorrow = timezone.localtime(timezone.now() + datetime.timedelta(days=1))
    page.locator("input[name=when]").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("I have checked the preview").check()
    page.get_by_role("button", name="Send mailing").click()
    mailing = Mailing.objects.get()
    expect(page.get_by_role("heading", name="2. Scheduled")).to_be_visible()
    page.get_by_role("link", name="Cancel the scheduled send").click()
    page.get_by_role("button", name="Cancel the scheduled send").click()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.DRAFT and mailing.scheduled_at is None

    # Send now.
    page.get_by_label("I have checked the preview").check()
    page.get_by_role("button", name="Send mailing").click()
    expect(page.locator(".messages")).to_contain_text("Sending has started.")
    assert steps.counts == (9, 5)
    for _ in range(6):
        call_command("worker", "--batch")
        if len(smtp_server.messages) >= 3:
            break
    sent = sorted(m.envelope_to[0] for m in smtp_server.messages[1:])
    assert sent == ["ann@example.net", "ben@example.net"]
    assert re.search(r"Ann, the buses vote is on Monday", smtp_server.messages[1]["Subject"] + " ")
    check_page(page, "first-hour-mailing-sending")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_task_4_approve_a_members_event(staff_page, live_server, areas, organiser):
    from clarion.core.testing import factories
    from clarion.events.models import Event
    from clarion.events.services import event_save

    host = factories.person(first_name="Mo", postcode=areas.postcodes["north"])
    start = timezone.now() + datetime.timedelta(days=3)
    event = event_save(
        event=Event(
            title="Saturday doorstep in City Ward",
            kind=Event.Kind.CANVASS,
            area=areas.north,
            postcode=areas.postcodes["north"],
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            status=Event.Status.PROPOSED,
            host_person=host,
        )
    )
    page = staff_page
    steps = _home(page, live_server, organiser)
    page.get_by_role("link", name="Events").first.click()
    page.get_by_role("link", name=re.compile("approval", re.I)).first.click()
    page.locator("section", has_text=event.title).get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Nothing is waiting for approval.")).to_be_visible()
    event.refresh_from_db()
    assert event.status == Event.Status.PUBLISHED
    check_page(page, "first-hour-approvals")
    assert steps.counts == (3, 1)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_task_5_moderate_a_qa_with_the_keyboard_only(staff_page, live_server, areas, organiser):
    from clarion.qa import services
    from clarion.qa.models import Question
    from clarion.qa.tests.conftest import make_session

    session = make_session(slug="north-live", title="Ask the North team", area=areas.north)
    for i, text in enumerate(("Will you save the 42 bus?", "When is the next street stall?")):
        services.question_ask(
            session=session,
            name=f"Asker {i}",
            email=f"asker{i}@example.net",
            text=text,
            ip=f"10.1.0.{i + 1}",
        )
    page = staff_page
    steps = _home(page, live_server, organiser)
    page.get_by_role("link", name="Q&A").first.click()
    page.get_by_role("link", name="Ask the North team").click()
    page.wait_for_load_state()  # the console's keys work once its script has run
    cards = page.locator("#qa-clean > li")
    expect(cards).to_have_count(2)
    for remaining in (1, 0):
        page.keyboard.press("j")
        expect(cards.first).to_have_class(re.compile("qa-card--selected"))
        page.keyboard.press("a")
        expect(cards).to_have_count(remaining)
    assert Question.objects.filter(status=Question.Status.APPROVED).count() == 2
    check_page(page, "first-hour-qa")
    assert steps.counts == (2, 0)
