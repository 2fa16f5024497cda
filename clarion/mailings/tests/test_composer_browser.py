"""The mailing composer's pages in a browser at phone and desktop width: they fit and
axe-core finds nothing serious."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clarion.core.testing.browser import DESKTOP, PHONE, check_page, check_url, login
from clarion.core.testing.factories import PASSWORD
from clarion.mailings import services
from clarion.people.models import EmailStatus
from clarion.people.services import email_status_set

from .helpers import make_mailing


@pytest.fixture
def page(browser):
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe itself
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_mailing_page_with_audience_breakdown_fits_and_is_accessible(
    page, live_server, admin, subscribed, everyone, mail_settings
):
    email_status_set(person=subscribed["sid"], status=EmailStatus.UNSUBSCRIBED)
    mailing = make_mailing(admin, everyone, frequency_cap_hours=24)
    login(page, live_server.url, admin.email, PASSWORD)
    check_url(page, f"{live_server.url}/staff/mailings/{mailing.pk}/", "mailing-breakdown")
    assert "2 people will receive this mailing." in page.content()
    assert "unsubscribed or never subscribed" in page.content()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_cancelling_a_scheduled_send_fits_and_is_accessible(
    page, live_server, admin, subscribed, everyone, mail_settings
):
    mailing = make_mailing(admin, everyone)
    services.mailing_send(mailing=mailing, actor=admin, when=timezone.now() + timedelta(days=1))
    login(page, live_server.url, admin.email, PASSWORD)
    check_url(page, f"{live_server.url}/staff/mailings/{mailing.pk}/", "mailing-scheduled")
    check_url(
        page, f"{live_server.url}/staff/mailings/{mailing.pk}/unschedule/", "mailing-unschedule"
    )
    page.get_by_role("button", name="Cancel the scheduled send").click()
    page.wait_for_load_state()
    assert "The mailing is a draft again." in page.content()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_test_send_error_fits_and_is_accessible(
    page, live_server, admin, subscribed, everyone, mail_settings
):
    mailing = make_mailing(admin, everyone)
    login(page, live_server.url, admin.email, PASSWORD)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/staff/mailings/{mailing.pk}/")
        page.get_by_label("Send the test to").fill("nora@example.net")
        page.get_by_role("button", name="Send a test").click()
        page.wait_for_load_state()
        assert "these are not: nora@example.net" in page.content()
        check_page(page, "mailing-test-error")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_preview_by_name_fits_and_is_accessible(
    page, live_server, admin, subscribed, everyone, mail_settings
):
    mailing = make_mailing(admin, everyone)
    login(page, live_server.url, admin.email, PASSWORD)
    base = f"{live_server.url}/staff/mailings/{mailing.pk}/preview/"
    check_url(page, f"{base}?find=Nor", "mailing-preview-matches")
    check_url(page, f"{base}?find=nobody%40example.net", "mailing-preview-not-found")
    check_url(page, f"{base}?find=Nora+North", "mailing-preview-person")
    assert "Showing the mailing as Nora North will see it." in page.content()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_saving_and_starting_from_a_template_in_the_browser(
    page, live_server, admin, subscribed, everyone, mail_settings
):
    mailing = make_mailing(admin, everyone)
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/mailings/{mailing.pk}/")
    page.get_by_role("link", name="Save as a template").click()
    check_page(page, "template-save")
    page.get_by_label("Template name").fill("Library appeal, reusable")
    page.get_by_role("button", name="Save template").click()
    assert "Saved as the template" in page.locator(".messages").inner_text()
    check_url(page, f"{live_server.url}/staff/mailings/templates/", "templates")
    page.get_by_role("link", name="Use").click()
    assert page.locator("#id_subject").input_value() == mailing.subject
    assert page.locator("#id_template").input_value() != ""
    check_page(page, "composer-from-template")
