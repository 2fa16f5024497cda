"""Links follow the configured site address (CLARION_SITE_URL), and a click through a
mailing credits it even when the mailing's link was written for another port or
scheme of this same site."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from clarion.core.testing.smtp import body_html, body_text
from clarion.mailings.models import Recipient

from .helpers import make_mailing, send_and_work

pytestmark = pytest.mark.django_db(transaction=True)
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
SITE = "http://127.0.0.1:9000"
BODY = (
    "Dear {{ first_name }},\n\n"
    "[Sign on the old port](http://127.0.0.1:8000/act/save-the-library/?source=email) · "
    "[Sign over https](https://localhost/act/save-the-library/) · "
    "[Read elsewhere](https://example.com/news/)"
)


@pytest.fixture
def on_port_9000(mail_settings):
    mail_settings.SITE_URL = SITE
    mail_settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
    return mail_settings


@pytest.fixture
def petition():
    from clarion.actions.models import ActionPage
    from clarion.actions.services import page_save

    return page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION,
            slug="save-the-library",
            title="Save the library",
            status=ActionPage.Status.LIVE,
            body="Our library is under threat.",
            goal=100,
        )
    )


def _sign_through(client, click_url: str) -> str:
    """Follow a tracked link as a reader would and sign the page it lands on; return
    where the click redirect sent the reader."""
    response = client.get(
        urlsplit(click_url)._replace(scheme="", netloc="").geturl(), HTTP_USER_AGENT=HUMAN
    )
    assert response.status_code == 302
    target = response["Location"]
    landing = client.get(urlsplit(target)._replace(scheme="", netloc="").geturl())
    mt = re.search(r'name="mt" value="([^"]+)"', landing.content.decode()).group(1)
    client.post(
        urlsplit(target).path,
        {
            "first_name": "Nora",
            "last_name": "North",
            "email": "nora@example.net",
            "mt": unescape(mt),
        },
    )
    return target


def test_mailing_links_follow_the_site_address_and_clicks_credit_the_mailing(
    client,
    admin,
    subscribed,
    everyone,
    petition,
    smtp_server,
    on_port_9000,
    django_capture_on_commit_callbacks,
):
    from clarion.actions.models import Submission

    mailing = send_and_work(
        make_mailing(admin, everyone, body=BODY), admin, django_capture_on_commit_callbacks
    )
    Recipient.objects.filter(mailing=mailing).update(
        sent_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    message = smtp_server.to("nora@example.net")[0]
    html = body_html(message)
    clicks = [unescape(u) for u in re.findall(r'href="([^"]*/m/c/[^"]+)"', html)]
    assert len(clicks) == 3 and all(u.startswith(f"{SITE}/m/c/") for u in clicks)
    assert re.search(rf'src="{re.escape(SITE)}/m/o/', html)
    assert f"{SITE}/m/u/" in message["List-Unsubscribe"]
    assert f"{SITE}/m/p/" in body_text(message)
    assert ":8000" not in html and ":8000" not in body_text(message).replace("8000/act", "")

    # Written for port 8000: the reader lands on port 9000 and the signature counts.
    target = _sign_through(client, clicks[0])
    assert target.startswith(f"{SITE}/act/save-the-library/?source=email&mt=")
    signed = Submission.objects.get(page=petition, person__email="nora@example.net")
    assert signed.mailing_token.startswith(f"{mailing.pk}:")

    # Written as https without a port: the same.
    Submission.objects.all().delete()
    client.cookies.clear()
    target = _sign_through(client, clicks[1])
    assert target.startswith(f"{SITE}/act/save-the-library/?mt=")
    assert Submission.objects.get(page=petition).mailing_token.startswith(f"{mailing.pk}:")

    # Someone else's site gets no token.
    response = client.get(
        urlsplit(clicks[2])._replace(scheme="", netloc="").geturl(), HTTP_USER_AGENT=HUMAN
    )
    assert response["Location"] == "https://example.com/news/"


def test_event_host_link_and_share_links_use_the_site_address(
    areas, north_person, on_port_9000, petition
):
    from clarion.actions.selectors import page_public_url
    from clarion.events.emails import host_link_email_send
    from clarion.events.models import Event
    from clarion.events.services import event_save

    event = event_save(
        event=Event(
            title="Street stall",
            kind=Event.Kind.CANVASS,
            area=areas.north,
            postcode=areas.postcodes["north"],
            starts_at=timezone.now() + timezone.timedelta(days=2),
            ends_at=timezone.now() + timezone.timedelta(days=2, hours=2),
            host_person=north_person,
            status=Event.Status.PUBLISHED,
        )
    )
    mail.outbox.clear()
    host_link_email_send(event)
    (sent,) = mail.outbox
    assert f"{SITE}/events/{event.pk}/host/" in sent.body
    assert page_public_url(petition, ref="abc") == f"{SITE}/act/save-the-library/?ref=abc"
