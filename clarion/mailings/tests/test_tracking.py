"""Opens, clicks, attribution into actions and donations, and the report."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from clarion.core.testing.smtp import body_html
from clarion.mailings import selectors
from clarion.mailings.models import Event, Recipient

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


def _links(message):
    html = body_html(message)
    clicks = [
        u.replace("&amp;", "&")
        for u in re.findall(r'href="(https://clarion\.example\.org/m/c/[^"]+)"', html)
    ]
    pixel = re.search(r'src="(https://clarion\.example\.org/m/o/[^"]+)"', html).group(1)
    return clicks, pixel


def test_click_opens_and_attribution_show_in_the_report(
    client, admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.actions.models import ActionPage
    from clarion.actions.services import (
        SubmissionInput,
        mailing_token_value,
        page_save,
        submission_record,
    )
    from clarion.donations.models import Donation

    page = page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION,
            slug="save-the-library",
            title="Save it",
            status=ActionPage.Status.LIVE,
            body="Sign",
            goal=100,
        )
    )
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )
    Recipient.objects.filter(mailing=mailing).update(
        sent_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    nora = smtp_server.to("nora@example.net")[0]
    clicks, pixel = _links(nora)
    assert "nora" not in pixel and "nora" not in clicks[0]

    client.get(pixel.replace("https://clarion.example.org", ""), HTTP_USER_AGENT=HUMAN)
    client.get(pixel.replace("https://clarion.example.org", ""), HTTP_USER_AGENT=HUMAN)
    response = client.get(
        clicks[0].replace("https://clarion.example.org", ""), HTTP_USER_AGENT=HUMAN
    )
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith("https://clarion.example.org/act/save-the-library/?mt=")
    mt = parse_qs(urlsplit(target).query)["mt"][0]
    found = selectors.mailing_from_token(mt)
    assert found["mailing"] == mailing and found["person_id"] == subscribed["nora"].pk

    # Nora signs the petition and gives £12.50 through the pages the link led to.
    payload = mailing_token_value(mt)
    submission_record(
        page=page,
        data=SubmissionInput(email="nora@example.net", first_name="Nora", mailing_token=payload),
    )
    Donation.objects.create(
        person=subscribed["nora"],
        page=page,
        amount_pence=1250,
        status="succeeded",
        gateway="test",
        mailing_token=payload,
    )
    # A machine (Apple's proxy) opens Sid's copy: counted apart.
    sid_pixel = _links(smtp_server.to("sid@example.net")[0])[1]
    client.get(sid_pixel.replace("https://clarion.example.org", ""), HTTP_USER_AGENT="Mozilla/5.0")

    report = selectors.mailing_report(mailing)["total"]
    assert (report["sent"], report["opens"], report["machine_opens"], report["clicks"]) == (
        3,
        1,
        1,
        1,
    )
    assert (report["actions"], report["donations"], report["pence"]) == (1, 1, 1250)
    assert Event.objects.filter(kind="open").count() == 3  # every event row is kept

    client.force_login(admin)
    page_html = client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    assert 'data-figure="clicks">1<' in page_html and 'data-figure="money">£12.50<' in page_html
    listing = client.get("/staff/mailings/").content.decode()
    assert "Library appeal" in listing


def test_forged_click_token_is_refused(
    client, admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    send_and_work(make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks)
    assert client.get("/m/c/?r=1.deadbeefdeadbeefdeadbeef&l=0").status_code == 404
    assert client.get("/m/o/?r=nonsense").status_code == 200  # the pixel always answers
    assert not Event.objects.exists()


def test_ab_test_sends_a_sample_then_the_winner_to_the_rest(
    admin, areas, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.core.testing import factories
    from clarion.mailings import services
    from clarion.people.services import email_status_set

    for i in range(40):
        p = factories.person(
            postcode=areas.postcodes["north"], first_name=f"P{i}", email=f"p{i}@example.net"
        )
        email_status_set(person=p, status="subscribed")
    mailing = make_mailing(
        admin, everyone, ab_variants=2, ab_test_percent=25, ab_wait_minutes=0, subject="Subject A"
    )
    services.mailing_save(mailing=mailing, actor=admin, variants=[{}, {"subject": "Subject B"}])
    send_and_work(mailing, admin, django_capture_on_commit_callbacks)
    mailing.refresh_from_db()
    # The sample went out; the watcher (wait 0) picked a winner and the rest followed.
    subjects = [m["Subject"] for m in smtp_server.wait_for(40)]
    assert len(subjects) == 40
    assert {"Subject A", "Subject B"} <= set(subjects)
    assert mailing.winner_variant in (0, 1) and mailing.status == "sent"
    report = selectors.mailing_report(mailing)
    assert [v["label"] for v in report["variants"]] == ["A", "B"]
