"""My local party: the member's area and its group page, public events in and near
it, and a message to the organisers of their area, received here by a real SMTP
server on loopback. The organisers' addresses are never shown to the member."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.areas.models import Postcode
from clarion.core.models import AuditEntry, User
from clarion.core.testing import factories
from clarion.events.models import Event
from clarion.events.services import event_save
from clarion.members import local_services

from .conftest import sign_in

MESSAGE = {"subject": "Leafleting on Saturday", "message": "Can I help?\nI have a bike."}


def _event(area, title, postcode, *, days=3, **fields):
    start = (timezone.now() + datetime.timedelta(days=days)).replace(microsecond=0)
    return event_save(
        event=Event(
            area=area,
            postcode=postcode,
            title=title,
            kind=Event.Kind.MEETING,
            venue="Library",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
            **fields,
        )
    )


def _text(response, status=200) -> str:
    assert response.status_code == status, response.content.decode()[:2000]
    return response.content.decode()


def test_area_group_page_and_events_in_and_near_it(member_client, member, areas):
    assert member.area_id == areas.leeds_central.pk and member.latitude is not None
    _event(areas.leeds_central, "Ward meeting", "LS1 4AP", days=5)
    # Outside the member's ward but a mile away: shown, with the distance.
    _event(areas.leeds, "Constituency social", "LS2 7EY", days=2)
    _event(areas.bristol_east, "Bristol canvass", "BS5 6XX")
    _event(areas.leeds_central, "Unlisted meeting", "LS1 4AP", visibility=Event.Visibility.UNLISTED)
    _event(areas.leeds_central, "Last week's meeting", "LS1 4AP", days=-7)

    page = _text(member_client.get("/members/local/"))
    assert "Demo Nation" in page and "The North" in page and "<strong>City Ward</strong>" in page
    assert f"/groups/{areas.leeds_central.pk}/" in page
    assert page.index("Constituency social") < page.index("Ward meeting")
    assert "miles away" in page
    for hidden in ("Bristol canvass", "Unlisted meeting", "Last week"):
        assert hidden not in page


def test_message_goes_to_the_areas_organisers_with_reply_to_the_member(
    member_client, member, organiser, south_organiser, admin, smtp_server
):
    page = _text(member_client.get("/members/local/"))
    assert "Your message goes to the organisers of The North." in page
    assert organiser.email not in page and organiser.name not in page

    response = member_client.post("/members/local/", MESSAGE)
    assert response.status_code == 302 and response["Location"] == "/members/local/"
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == [organiser.email]
    assert mail["Reply-To"] == member.email
    assert "Leafleting on Saturday" in mail["Subject"] and "Mo Member" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Can I help?\nI have a bike." in body and "City Ward" in body
    assert f"/staff/people/{member.pk}/" in body

    page = _text(member_client.get("/members/local/"))
    assert "Your message was sent to the organisers of The North." in page
    assert organiser.email not in page
    entry = AuditEntry.objects.get(detail__event="member_contact")
    assert entry.object_id == str(member.pk)
    assert entry.detail["area"] == "R-N" and entry.detail["recipients"] == [organiser.pk]
    assert "bike" not in str(entry.detail) + entry.summary  # the text is not kept


def test_the_nearest_organisers_get_it(member_client, areas, organiser, smtp_server):
    ward = factories.staff_user(role=User.Role.ORGANISER, area=areas.leeds_central)
    also = factories.staff_user(role=User.Role.ORGANISER, area=areas.leeds_central)
    factories.staff_user(role=User.Role.ORGANISER, area=areas.leeds_central, is_active=False)
    factories.staff_user(role=User.Role.ANALYST, area=areas.leeds_central)
    member_client.post("/members/local/", MESSAGE)
    (mail,) = smtp_server.wait_for(1)
    assert sorted(mail.envelope_to) == sorted([ward.email, also.email])
    assert organiser.email not in mail.envelope_to


def test_no_organiser_for_the_area_means_the_national_team(
    member_client, south_organiser, admin, analyst, smtp_server
):
    page = _text(member_client.get("/members/local/"))
    assert "our national team" in page and admin.email not in page
    member_client.post("/members/local/", MESSAGE)
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == [admin.email]
    assert "their area has no organiser" in mail.get_body(("plain",)).get_content()
    assert AuditEntry.objects.get(detail__event="member_contact").detail["national"] is True


def test_member_without_an_area_writes_to_the_national_team(client, areas, admin, smtp_server):
    nia = factories.person(first_name="Nia", last_name="Where", email="nia@example.net")
    sign_in(client, nia)
    page = _text(client.get("/members/local/"))
    assert "We don't know your area yet" in page and "/members/details/" in page
    client.post("/members/local/", MESSAGE)
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == [admin.email] and mail["Reply-To"] == "nia@example.net"


def test_nobody_to_write_to_hides_the_form_and_sends_nothing(member_client, smtp_server):
    page = _text(member_client.get("/members/local/"))
    assert "There is nobody to write to yet" in page and "Send my message" not in page
    page = _text(member_client.post("/members/local/", MESSAGE), 503)
    assert "There is nobody to write to yet" in page
    assert smtp_server.wait_for(1, timeout=0.3) == []


def test_bad_input_is_a_form_error_and_nothing_is_sent(member_client, organiser, smtp_server):
    page = _text(member_client.post("/members/local/", {"subject": " ", "message": ""}), 400)
    assert "There is a problem" in page and "This field is required." in page
    page = _text(
        member_client.post("/members/local/", {"subject": "x" * 151, "message": "y" * 5001}), 400
    )
    assert "at most 150 characters" in page and "at most 5000 characters" in page
    assert smtp_server.wait_for(1, timeout=0.3) == []
    assert not AuditEntry.objects.filter(detail__event="member_contact").exists()


def test_subject_stays_one_line_and_html_is_escaped(member_client, organiser, smtp_server):
    member_client.post(
        "/members/local/",
        {"subject": "Hi\r\nBcc: victim@example.com", "message": "<script>alert(1)</script>"},
    )
    (mail,) = smtp_server.wait_for(1)
    assert mail["Bcc"] is None and mail.envelope_to == [organiser.email]
    assert "Hi Bcc: victim@example.com" in mail["Subject"]
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_rate_limited_per_member(member_client, organiser, smtp_server):
    for _n in range(local_services.CONTACT_MEMBER_LIMIT):
        assert member_client.post("/members/local/", MESSAGE).status_code == 302
    page = _text(member_client.post("/members/local/", MESSAGE), 429)
    assert "You have sent as many messages as we allow for now" in page
    assert len(smtp_server.wait_for(local_services.CONTACT_MEMBER_LIMIT + 1, timeout=0.5)) == (
        local_services.CONTACT_MEMBER_LIMIT
    )
    assert (
        AuditEntry.objects.filter(detail__event="member_contact").count()
        == local_services.CONTACT_MEMBER_LIMIT
    )


def test_rate_limited_per_network_address(client, areas, organiser, smtp_server, monkeypatch):
    monkeypatch.setattr(local_services, "CONTACT_IP_LIMIT", 2)
    people = [
        factories.person(postcode=areas.postcodes["north"], email=f"m{n}@example.net")
        for n in range(3)
    ]
    for person in people[:2]:
        sign_in(client, person)
        assert client.post("/members/local/", MESSAGE).status_code == 302
    sign_in(client, people[2])
    _text(client.post("/members/local/", MESSAGE), 429)
    assert len(smtp_server.wait_for(3, timeout=0.5)) == 2


def test_mail_server_down_says_so_and_records_nothing(member_client, organiser, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    page = _text(member_client.post("/members/local/", MESSAGE), 503)
    assert "could not be sent just now; nothing was sent" in page
    assert "Leafleting on Saturday" in page  # what they typed is still in the form
    assert not AuditEntry.objects.filter(detail__event="member_contact").exists()


def test_only_get_head_post(member_client):
    assert member_client.put("/members/local/").status_code == 405
    assert member_client.post("/members/actions/").status_code == 405


@pytest.mark.parametrize("path", ["/members/local/", "/members/actions/"])
def test_a_staff_session_opens_no_member_page(organiser_client, path):
    response = organiser_client.get(path)
    assert response.status_code == 302 and response["Location"] == "/members/sign-in/"


def test_page_costs_a_fixed_number_of_queries(
    member_client, areas, organiser, django_assert_max_num_queries
):
    for n in range(15):
        _event(areas.leeds_central, f"Meeting {n}", "LS1 4AP", days=n + 1)
        _event(areas.leeds, f"Social {n}", "LS2 7EY", days=n + 1)
    Postcode.objects.get(postcode="LS2 7EY")
    member_client.get("/members/local/")
    with django_assert_max_num_queries(8):
        page = _text(member_client.get("/members/local/"))
    assert page.count("<h3>") == 10
