"""Staff pages: composing with clear errors, scope, preview as a person, test send."""

from __future__ import annotations

import pytest

from clarion.core.testing.smtp import body_text
from clarion.mailings.models import Mailing
from clarion.people.models import Segment

from .helpers import make_mailing

pytestmark = pytest.mark.usefixtures("mail_settings")


def _form(segment, **extra):
    data = {
        "name": "Door knock",
        "category": "events",
        "segment": segment.pk,
        "subject": "Hi {{ first_name }}",
        "from_name": "North team",
        "from_email": "north@clarion.example.org",
        "body_format": "markdown",
        "body": "Dear {{ first_name|default:'friend' }}",
        "frequency_cap_hours": 0,
        "rate_per_second": 0,
        "ab_variants": 1,
        "ab_test_percent": 0,
        "ab_wait_minutes": 60,
        "ab_metric": "opens",
    }
    data.update(extra)
    return data


def test_broken_merge_field_is_a_form_error_not_a_500(organiser_client, areas):
    segment = Segment.objects.create(
        name="North", definition={"op": "all", "conditions": []}, owner_area=areas.north
    )
    response = organiser_client.post(
        "/staff/mailings/new/", _form(segment, body="Hi {{ frist_name }} {% load x %}")
    )
    assert response.status_code == 400
    assert "Unknown merge field “frist_name”" in response.content.decode()
    assert "not allowed in a mailing" in response.content.decode()
    assert not Mailing.objects.exists()


def test_organiser_cannot_reach_another_areas_mailing_or_person(
    organiser_client, south_organiser, areas, subscribed, from_addresses
):
    south_segment = Segment.objects.create(
        name="South", definition={"op": "all", "conditions": []}, owner_area=areas.south
    )
    south_mailing = make_mailing(south_organiser, south_segment)
    for url in ("", "edit/", "preview/", "preview/frame/"):
        assert organiser_client.get(f"/staff/mailings/{south_mailing.pk}/{url}").status_code == 404
    assert (
        organiser_client.post(
            f"/staff/mailings/{south_mailing.pk}/send/", {"confirm": "on"}
        ).status_code
        == 404
    )
    # A national segment is not offered to an organiser either.
    response = organiser_client.post("/staff/mailings/new/", _form(south_segment))
    assert response.status_code == 400


def test_preview_as_person_in_scope_and_count(
    organiser, organiser_client, areas, subscribed, smtp_server, from_addresses
):
    segment = Segment.objects.create(
        name="North", definition={"op": "all", "conditions": []}, owner_area=areas.north
    )
    response = organiser_client.post("/staff/mailings/new/", _form(segment))
    mailing = Mailing.objects.get()
    assert response.status_code == 302 and mailing.area == areas.north
    detail = organiser_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    assert "2 people will receive this mailing." in detail
    preview = organiser_client.get(
        f"/staff/mailings/{mailing.pk}/preview/?person={subscribed['nora'].pk}"
    )
    assert "Hi Nora" in preview.content.decode()
    frame = organiser_client.get(
        f"/staff/mailings/{mailing.pk}/preview/frame/?person={subscribed['nora'].pk}"
    )
    assert (
        "Dear Nora" in frame.content.decode()
        and "script-src" not in frame["Content-Security-Policy"]
    )
    # Sid is outside the North: previewing as him is refused.
    assert (
        organiser_client.get(
            f"/staff/mailings/{mailing.pk}/preview/?person={subscribed['sid'].pk}"
        ).status_code
        == 404
    )
    organiser_client.post(f"/staff/mailings/{mailing.pk}/test/")
    test = smtp_server.wait_for(1)[0]
    assert test.envelope_to == ["north@example.org"] and test["Subject"].startswith(
        "[TEST] Hi Alex"
    )
    assert "Dear Alex" in body_text(test)


def test_analyst_cannot_send(client, analyst, admin, subscribed, everyone):
    mailing = make_mailing(admin, everyone)
    client.force_login(analyst)
    assert client.post(f"/staff/mailings/{mailing.pk}/send/", {"confirm": "on"}).status_code == 403
    assert client.get("/staff/mailings/new/").status_code == 403


def test_send_without_confirmation_is_refused_with_a_message(
    admin_client, admin, subscribed, everyone
):
    mailing = make_mailing(admin, everyone)
    response = admin_client.post(f"/staff/mailings/{mailing.pk}/send/", {}, follow=True)
    assert "This field is required." in response.content.decode()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.DRAFT


def test_warnings_for_empty_segment_and_closed_page(
    admin_client, admin, areas, subscribed, everyone
):
    from clarion.actions.models import ActionPage
    from clarion.actions.services import page_save

    page_save(
        page=ActionPage(
            kind="petition",
            slug="save-the-library",
            title="Old",
            status=ActionPage.Status.CLOSED,
            body="x",
            goal=1,
        )
    )
    mailing = make_mailing(
        admin, everyone, exclude_segment=everyone
    )  # excludes everyone it includes
    html = admin_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    assert "Nobody would receive this mailing" in html
    assert "not https" not in html  # SITE_URL is https in these tests
    html = admin_client.get(f"/staff/mailings/{make_mailing(admin, everyone).pk}/").content.decode()
    assert (
        "A link goes to a page that is not open: https://clarion.example.org/act/save-the-library/"
        in html
    )
