"""The audit log viewer: admins only, newest first, filters, paging, never editable."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record

URL = "/staff/audit/"


def entry(action="export", email="admin@example.org", summary="", when=None, **kw):
    return AuditEntry.objects.create(
        action=action,
        actor_email=email,
        summary=summary or f"{action} by {email}",
        created_at=when or timezone.now(),
        **kw,
    )


def shown(response) -> list[str]:
    """Summaries in the order the page shows them."""
    import re

    return re.findall(r"<td>(entry \d+[^<]*)</td>", response.content.decode())


@pytest.mark.parametrize("persona", ["organiser", "analyst"])
def test_only_admins_see_the_audit_log(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403


def test_audit_record_keeps_actor_request_address_and_detail(rf, admin):
    request = rf.get("/", REMOTE_ADDR="192.0.2.7")
    row = audit_record(
        actor=admin,
        action="export",
        summary="Exported 10 people",
        detail={"n": 10},
        request=request,
    )
    assert (row.actor_email, row.ip_address, row.detail) == (
        "admin@example.org",
        "192.0.2.7",
        {"n": 10},
    )


def test_newest_first(admin_client):
    now = timezone.now()
    for n in range(3):
        entry(summary=f"entry {n}", when=now - dt.timedelta(minutes=10 - n))
    assert shown(admin_client.get(URL)) == ["entry 2", "entry 1", "entry 0"]


def test_filter_by_action_actor_and_dates(admin_client):
    now = timezone.now()
    entry(
        action="export",
        email="a@example.org",
        summary="entry 1 export",
        when=now - dt.timedelta(days=10),
    )
    entry(
        action="merge",
        email="b@example.org",
        summary="entry 2 merge",
        when=now - dt.timedelta(days=5),
    )
    entry(action="export", email="B@example.org", summary="entry 3 export", when=now)
    assert shown(admin_client.get(URL, {"action": "export"})) == [
        "entry 3 export",
        "entry 1 export",
    ]
    assert shown(admin_client.get(URL, {"actor": "b@EXAMPLE.org"})) == [
        "entry 3 export",
        "entry 2 merge",
    ]
    local = timezone.localdate
    response = admin_client.get(
        URL,
        {
            "date_from": local(now - dt.timedelta(days=6)).isoformat(),
            "date_to": local(now - dt.timedelta(days=4)).isoformat(),
        },
    )
    assert shown(response) == ["entry 2 merge"]
    today = admin_client.get(
        URL, {"date_from": local(now).isoformat(), "date_to": local(now).isoformat()}
    )
    assert shown(today) == ["entry 3 export"]


def test_bad_filter_values_get_a_message_not_an_error(admin_client):
    response = admin_client.get(
        URL, {"date_from": "2024-05-02", "date_to": "2024-05-01", "action": "nonsense"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The end date is before the start date." in page
    assert "Select a valid choice" in page
    assert admin_client.get(URL, {"date_from": "not-a-date", "before": "x"}).status_code == 200


def test_pages_of_fifty_then_older(admin_client):
    now = timezone.now()
    for n in range(120):
        entry(summary=f"entry {n:03d}", when=now - dt.timedelta(seconds=1000 - n))
    first = admin_client.get(URL, {"action": "export"})
    rows = shown(first)
    assert len(rows) == 50 and rows[0] == "entry 119" and rows[-1] == "entry 070"
    older = first.context["older_url"]
    assert "action=export" in older
    second = admin_client.get(URL + older)
    rows2 = shown(second)
    assert rows2[0] == "entry 069" and rows2[-1] == "entry 020"
    third = admin_client.get(URL + second.context["older_url"])
    assert shown(third)[-1] == "entry 000" and not third.context["older_url"]


def test_entries_with_the_same_time_page_without_gaps_or_repeats(admin_client):
    same = timezone.now()
    for n in range(60):
        entry(summary=f"entry {n:03d}", when=same)
    first = admin_client.get(URL)
    second = admin_client.get(URL + first.context["older_url"])
    together = shown(first) + shown(second)
    assert len(together) == 60 and len(set(together)) == 60


def test_the_log_cannot_be_changed_through_the_viewer(admin_client):
    row = entry(summary="entry 1 original")
    assert admin_client.post(URL, {"summary": "changed"}).status_code == 405
    page = admin_client.get(URL).content.decode()
    assert '<form method="post"' not in page.split("<main", 1)[1]
    row.refresh_from_db()
    assert row.summary == "entry 1 original"


def test_user_text_in_the_log_is_escaped(admin_client):
    entry(summary="entry 1 <img src=x onerror=alert(1)>", detail={"name": "<b>bold</b>"})
    page = admin_client.get(URL).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>bold</b>" not in page


def test_logins_show_up_in_the_log(client, admin, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    admin.set_password("pw-for-this-test-1")
    admin.save()
    client.post("/login/", {"email": admin.email, "password": "wrong"})
    client.post("/login/", {"email": admin.email, "password": "pw-for-this-test-1"})
    page = client.get(reverse("core:audit_log")).content.decode()
    assert "Failed login" in page and "Logged in" in page
