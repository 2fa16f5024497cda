"""The report's chart over time (server-rendered SVG) and the list comparing mailings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from clarion.mailings import selectors
from clarion.mailings.models import Event, Recipient

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


def _at(mailing, kind, hour0, hours_later, n, machine=False):
    rows = list(Recipient.objects.filter(mailing=mailing))
    for i in range(n):
        Event.objects.create(
            mailing=mailing,
            recipient=rows[i % len(rows)],
            variant=0,
            kind=kind,
            machine=machine,
            created_at=hour0 + timedelta(hours=hours_later, minutes=5),
            link_index=0 if kind == "click" else None,
        )


def test_report_draws_opens_clicks_and_actions_per_hour(
    admin, admin_client, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.actions.models import ActionPage, Submission
    from clarion.actions.services import SubmissionInput, page_save, submission_record
    from clarion.mailings.sending import tokens

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
    hour0 = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    _at(mailing, "open", hour0, 0, 3)
    _at(mailing, "open", hour0, 2, 1)
    _at(mailing, "open", hour0, 1, 4, machine=True)  # machine opens are not drawn
    _at(mailing, "click", hour0, 1, 2)
    submission_record(
        page=page,
        data=SubmissionInput(
            email="nora@example.net",
            first_name="Nora",
            mailing_token=tokens.mailing_link_payload(mailing.pk, 0, subscribed["nora"].pk),
        ),
    )
    Submission.objects.filter(page=page).update(created_at=hour0 + timedelta(hours=3, minutes=1))

    chart = selectors.mailing_chart(mailing)
    assert chart["hours"] == 4 and chart["peak"] == 3
    totals = {s["key"]: s["total"] for s in chart["series"]}
    assert totals == {"opens": 4, "clicks": 2, "actions": 1}

    html = admin_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    svg = re.search(r'<svg class="mail-chart".*?</svg>', html, re.S).group(0)
    points = dict(
        re.findall(r'<polyline class="series-(\w+)" data-series="\w+" points="([^"]+)"', svg)
    )
    # Four hours from left (x=36) to right (x=604); the peak (3) at the top (y=36), 0 on the axis (y=184).
    assert points["opens"] == "36.0,36.0 225.3,184.0 414.7,134.7 604.0,184.0"
    assert points["clicks"] == "36.0,184.0 225.3,85.3 414.7,184.0 604.0,184.0"
    assert points["actions"] == "36.0,184.0 225.3,184.0 414.7,184.0 604.0,134.7"
    assert "style=" not in svg and "<script" not in html
    assert (
        'data-series-total="actions"><span class="swatch series-actions"></span>Actions: 1' in html
    )


def test_report_has_no_chart_before_anything_happens(
    admin, admin_client, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )
    assert selectors.mailing_chart(mailing) is None
    assert "mail-chart" not in admin_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()


def test_mailings_list_compares_them_side_by_side(
    admin, admin_client, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    first = send_and_work(
        make_mailing(admin, everyone, name="First appeal"),
        admin,
        django_capture_on_commit_callbacks,
    )
    second = send_and_work(
        make_mailing(admin, everyone, name="Second appeal"),
        admin,
        django_capture_on_commit_callbacks,
    )
    hour0 = timezone.now() - timedelta(hours=2)
    _at(first, "open", hour0, 0, 3)
    _at(first, "click", hour0, 0, 1)
    _at(second, "open", hour0, 0, 1)
    html = admin_client.get("/staff/mailings/").content.decode()
    rows = {
        name: re.findall(r'<td class="num">([^<]*)</td>', row)
        for name, row in re.findall(
            r'<tr>\s*<td><a href="[^"]+">([^<]+)</a>.*?</td>(.*?)</tr>', html, re.S
        )
    }
    # Sent, opens, open rate, clicks, click rate, actions, raised, unsubscribes.
    assert rows["First appeal"] == ["3", "3", "100%", "1", "33%", "0", "£0.00", "0"]
    assert rows["Second appeal"] == ["3", "1", "33%", "0", "0%", "0", "£0.00", "0"]
