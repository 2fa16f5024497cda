"""What a visitor who is not logged in finds: a home page, lists of campaigns,
donation pages and Q&A sessions, upcoming events, and styled error pages; and the
demo's Outbox for administrators."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone
from django.views.defaults import server_error

from clarion.actions.models import ActionPage
from clarion.actions.services import page_save
from clarion.events.models import Event
from clarion.events.services import event_save
from clarion.qa.models import Session

pytestmark = pytest.mark.django_db


def _page(slug, title, *, kind=ActionPage.Kind.PETITION, status=ActionPage.Status.LIVE):
    return page_save(page=ActionPage(kind=kind, slug=slug, title=title, status=status, goal=10))


@pytest.fixture
def public_things(areas):
    _page("save-the-library", "Save the library")
    _page("secret-draft", "Secret draft", status=ActionPage.Status.DRAFT)
    _page("fund-the-fight", "Fund the fight", kind=ActionPage.Kind.DONATION)
    start = timezone.now() + datetime.timedelta(days=3)
    event_save(
        event=Event(
            title="Saturday street stall",
            kind=Event.Kind.CANVASS,
            area=areas.leeds_central,
            postcode="LS1 4AP",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            status=Event.Status.PUBLISHED,
        )
    )
    Session.objects.create(slug="ask-the-leader", title="Ask the leader", status="open")
    Session.objects.create(slug="not-yet", title="Not yet", status="draft")


def test_logged_out_home_shows_campaigns_events_and_groups(client, areas, public_things):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Save the library" in html and "Secret draft" not in html
    assert "Saturday street stall" in html
    assert "Ask the leader" in html and "Not yet" not in html
    assert f'href="/groups/{areas.north.pk}/"' in html and "The North" in html
    assert 'href="/login/"' in html


def test_staff_still_land_on_their_dashboard(admin_client, public_things):
    html = admin_client.get("/").content.decode()
    assert "Hello," in html and "Saturday street stall" not in html


def test_index_pages_list_what_is_open(client, public_things):
    act = client.get("/act/").content.decode()
    assert "Save the library" in act and "Fund the fight" not in act and "Secret draft" not in act
    donate = client.get("/donate/").content.decode()
    assert "Fund the fight" in donate and "Save the library" not in donate
    qa = client.get("/qa/").content.decode()
    assert "Ask the leader" in qa and "Not yet" not in qa
    assert client.post("/act/").status_code == 405


def test_index_pages_say_when_nothing_is_open(client, areas):
    assert "no open campaigns right now" in client.get("/act/").content.decode()
    assert "no open appeal" in client.get("/donate/").content.decode()
    assert "No Q&amp;A session is taking questions" in client.get("/qa/").content.decode()


def test_event_finder_lists_upcoming_events_before_a_search(client, public_things):
    html = client.get("/events/").content.decode()
    assert "Coming up" in html and "Saturday street stall" in html


def test_not_found_and_forbidden_pages_are_styled(organiser):
    missing = Client().get("/no-such-page/")
    html = missing.content.decode()
    assert missing.status_code == 404
    assert "Page not found" in html and "clarion.css" in html and "Go to the home page" in html
    organiser_client = Client()
    organiser_client.force_login(organiser)
    staff_missing = organiser_client.get("/staff/no-such-page/").content.decode()
    assert "Page not found" in staff_missing and "Go to your dashboard" in staff_missing
    denied = organiser_client.get("/staff/audit/")
    assert denied.status_code == 403
    assert "Not allowed" in denied.content.decode()


def test_server_error_page_renders_without_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_demo_outbox_shows_sent_mail_to_admins_only(admin_client, organiser, settings):
    settings.DEMO = True
    settings.EMAIL_BACKEND = "clarion.core.demo_mail.ConsoleBackend"
    mail.send_mail("Please confirm your signature", "Click to confirm.", None, ["ada@example.net"])
    html = admin_client.get("/staff/outbox/").content.decode()
    assert "Please confirm your signature" in html and "ada@example.net" in html
    assert "Click to confirm." in html
    assert "Outbox" in admin_client.get("/").content.decode()
    organiser_client = Client()
    organiser_client.force_login(organiser)
    assert organiser_client.get("/staff/outbox/").status_code == 403
