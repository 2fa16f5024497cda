"""The public home page, the indexes, the error pages, the Outbox and the composer's
"no from address" notice in headless Chromium: no serious accessibility violations and
nothing wider than a phone. Set CLARION_SCREENSHOTS=DIR to keep screenshots."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from clarion.actions.models import ActionPage
from clarion.actions.services import page_save
from clarion.core.testing.browser import AXE, check_url, login
from clarion.core.testing.factories import PASSWORD
from clarion.events.models import Event
from clarion.events.services import event_save
from clarion.qa.models import Session


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_public_pages_errors_and_outbox_are_accessible_on_phone_and_desktop(
    browser, live_server, areas, admin, organiser, settings
):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe itself
    page = context.new_page()
    for slug, title, kind in (
        ("save-the-library", "Save the library", ActionPage.Kind.PETITION),
        ("pledge-to-vote", "Pledge to vote", ActionPage.Kind.PLEDGE),
        ("fund-the-fight", "Fund the fight", ActionPage.Kind.DONATION),
    ):
        page_save(
            page=ActionPage(
                kind=kind,
                slug=slug,
                title=title,
                status=ActionPage.Status.LIVE,
                goal=100,
                summary="The council wants to close it. Tell them to keep it open.",
                pledge_text="vote",
            )
        )
    start = timezone.now() + datetime.timedelta(days=3)
    event_save(
        event=Event(
            title="Saturday street stall",
            kind=Event.Kind.CANVASS,
            area=areas.leeds_central,
            postcode="LS1 4AP",
            venue="Central Library",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            status=Event.Status.PUBLISHED,
        )
    )
    Session.objects.create(slug="ask-the-leader", title="Ask the leader", status="open")
    site = live_server.url
    for path, name in (
        ("/", "home"),
        ("/act/", "act"),
        ("/donate/", "donate"),
        ("/qa/", "qa"),
        ("/events/", "events"),
        ("/no-such-page/", "404"),
    ):
        check_url(page, site + path, name)

    settings.DEMO = True
    settings.EMAIL_BACKEND = "clarion.core.demo_mail.ConsoleBackend"
    mail.send_mail(
        "Please confirm your signature",
        "Dear Ada,\n\nClick to confirm: " + site + "/act/save-the-library/confirm/abc/",
        None,
        ["ada@example.net"],
    )
    login(page, site, organiser.email, PASSWORD)
    check_url(page, site + "/staff/mailings/new/", "composer-no-from-address")
    check_url(page, site + "/staff/outbox/", "403")
    page.context.clear_cookies()
    login(page, site, admin.email, PASSWORD)
    check_url(page, site + "/staff/outbox/", "outbox")
    page.get_by_text("Please confirm your signature").click()
    assert page.get_by_text("Click to confirm").is_visible()
    context.close()
