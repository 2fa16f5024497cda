"""Host tools: messaging attendees (through the task queue and a real SMTP server,
once per person, within a per-event limit, within the staff user's scope), the
printable sign-in sheet, and the attendee list for the host."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from clarion.core.testing import factories
from clarion.core.testing.smtp import body_html, body_text
from clarion.events.models import CanvassResult, EventEmail, HostMessage, Rsvp
from clarion.events.selectors import host_token
from clarion.events.services import RsvpInput, host_message_send, rsvp_create
from clarion.people.models import Activity, EmailStatus, Person

from .conftest import make_event

pytestmark = pytest.mark.django_db


def run_worker():
    call_command("worker", "--batch")


@pytest.fixture
def hosted(areas):
    host = factories.person(
        postcode=areas.postcodes["north"], first_name="Hal", email="hal@example.net"
    )
    event = make_event(area=areas.leeds_central, capacity=2, host_person=host, title="Street stall")
    going = [
        rsvp_create(
            event=event, data=RsvpInput(email=f"{name.lower()}@example.net", first_name=name)
        ).rsvp
        for name in ("Ann", "Ben")
    ]
    waiting = rsvp_create(
        event=event, data=RsvpInput(email="cat@example.net", first_name="Cat")
    ).rsvp
    assert waiting.status == Rsvp.Status.WAITLISTED
    return event, host_token(event), going, waiting


@pytest.mark.django_db(transaction=True)
def test_host_messages_people_going_once_each_through_smtp(client, hosted, smtp_server):
    event, token, going, waiting = hosted
    run_worker()  # confirmations and the waiting-list notice
    smtp_server.wait_for(3)
    before = len(smtp_server.messages)
    url = reverse("events:host_message", kwargs={"pk": event.pk, "token": token})
    page = client.get(url).content.decode()
    assert "Message attendees" in page and "2 going · 1 waiting" in page
    response = client.post(
        url, {"subject": "Meet at the clock", "body": "See you at 10 by the clock & tower."}
    )
    assert response.status_code == 302
    assert "Your message is on its way." in client.get(response["Location"]).content.decode()
    assert smtp_server.messages[before:] == []  # queued, not sent in the request
    run_worker()
    run_worker()  # a second run sends nothing again
    messages = smtp_server.wait_for(before + 2)[before:]
    assert sorted(m["To"] for m in messages) == ["ann@example.net", "ben@example.net"]
    message = messages[0]
    assert message["Subject"] == "Meet at the clock (Street stall)"
    assert message["Reply-To"] == "hal@example.net"
    assert "See you at 10 by the clock & tower." in body_text(message)
    assert "clock &amp; tower" in body_html(message)
    assert re.search(r"/events/\d+/rsvp/[^\s]+/", body_text(message))
    assert smtp_server.to("cat@example.net")[-1]["Subject"].startswith("You’re on the waiting")
    for rsvp in going:
        assert (
            Activity.objects.filter(
                person=rsvp.person, summary__contains="Meet at the clock"
            ).count()
            == 1
        )
    assert not Activity.objects.filter(
        person=waiting.person, summary__contains="Meet at the clock"
    ).exists()
    assert "Meet at the clock" in client.get(url).content.decode()  # listed as sent


@pytest.mark.django_db(transaction=True)
def test_waiting_list_is_included_when_asked_and_bouncing_addresses_are_skipped(
    hosted, smtp_server
):
    event, _token, going, waiting = hosted
    Person.objects.filter(pk=going[1].person_id).update(email_status=EmailStatus.BOUNCING)
    message = host_message_send(
        event=event, subject="Parking", body="Use the back lot.", include_waitlisted=True
    )
    assert message.recipients == 2
    run_worker()
    got = [
        m["To"] for m in smtp_server.wait_for(5, timeout=1) if m["Subject"].startswith("Parking")
    ]
    assert sorted(got) == ["ann@example.net", "cat@example.net"]
    assert EventEmail.objects.filter(kind=f"message_{message.pk}").count() == 2


def test_an_event_can_send_only_a_few_messages_a_day(client, hosted, settings):
    settings.CLARION_EVENTS_HOST_MESSAGES_PER_DAY = 2
    event, token, _going, _waiting = hosted
    url = reverse("events:host_message", kwargs={"pk": event.pk, "token": token})
    for i in range(2):
        assert client.post(url, {"subject": f"Note {i}", "body": "Hello"}).status_code == 302
    third = client.post(url, {"subject": "Note 3", "body": "Hello"})
    assert third.status_code == 400
    assert "already sent 2 messages in the last 24 hours" in third.content.decode()
    assert HostMessage.objects.filter(event=event).count() == 2
    with pytest.raises(ValidationError):
        host_message_send(event=event, subject="Sneaky", body="Again")


def test_empty_message_gets_form_errors(client, hosted):
    event, token, _going, _waiting = hosted
    url = reverse("events:host_message", kwargs={"pk": event.pk, "token": token})
    response = client.post(url, {"subject": "  ", "body": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not HostMessage.objects.exists()


def test_forged_or_other_event_host_links_are_refused(client, areas, hosted):
    event, token, _going, _waiting = hosted
    other = make_event(area=areas.leeds_central, host_person=event.host_person, title="Other")
    for name in ("host_message", "host_sheet", "host_questions"):
        for pk, tok in ((event.pk, "forged"), (other.pk, token)):
            url = reverse(f"events:{name}", kwargs={"pk": pk, "token": tok})
            assert client.get(url).status_code == 404
            assert client.post(url, {"subject": "x", "body": "y"}).status_code in (404, 405)
    assert not HostMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_staff_message_reaches_only_the_attendees_in_their_area(
    client, organiser, areas, smtp_server
):
    event = make_event(area=areas.leeds_central, title="City Ward canvass")
    rsvp_create(event=event, data=RsvpInput(email="nora@example.net", postcode="LS1 4AP"))
    rsvp_create(event=event, data=RsvpInput(email="sid@example.net", postcode="BS5 6XX"))
    run_worker()
    smtp_server.wait_for(2)
    client.force_login(organiser)
    url = reverse("events_staff:message", kwargs={"pk": event.pk})
    page = client.get(url).content.decode()
    assert "Only the attendees in your area get staff messages." in page
    assert client.post(url, {"subject": "Clipboards", "body": "Bring one."}).status_code == 302
    run_worker()
    got = [m["To"] for m in smtp_server.wait_for(3) if m["Subject"].startswith("Clipboards")]
    assert got == ["nora@example.net"]
    entry = Activity.objects.get(person__email="nora@example.net", summary__contains="Clipboards")
    assert entry.actor == organiser
    south_event = make_event(area=areas.bristol_east, postcode="BS5 6XX", title="South")
    assert (
        client.post(
            reverse("events_staff:message", kwargs={"pk": south_event.pk}),
            {"subject": "x", "body": "y"},
        ).status_code
        == 404
    )


def test_analyst_cannot_message_attendees(client, analyst, areas):
    event = make_event(area=areas.leeds_central)
    client.force_login(analyst)
    url = reverse("events_staff:message", kwargs={"pk": event.pk})
    assert client.post(url, {"subject": "x", "body": "y"}).status_code == 403


def test_sign_in_sheet_lists_people_going_and_blank_rows_for_walk_ins(client, hosted):
    event, token, going, waiting = hosted
    response = client.get(reverse("events:host_sheet", kwargs={"pk": event.pk, "token": token}))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sign-in sheet: Street stall" in html
    assert "Ann" in html and "Ben" in html and "Cat" not in html  # waiting list is not coming
    assert html.count('class="sheet-blank"') == 15
    assert "ann@example.net" not in html  # contact details are not passed round the room
    assert "<th>Phone</th>" in html and "<th>Email</th>" in html
    assert "events/sheet.css" in html and "style=" not in html


def test_staff_sign_in_sheet_shows_only_people_in_scope(organiser_client, areas):
    event = make_event(area=areas.leeds_central)
    rsvp_create(
        event=event, data=RsvpInput(email="nora@example.net", first_name="Nora", postcode="LS1 4AP")
    )
    rsvp_create(
        event=event, data=RsvpInput(email="sid@example.net", first_name="Sid", postcode="BS5 6XX")
    )
    html = organiser_client.get(
        reverse("events_staff:sheet", kwargs={"pk": event.pk})
    ).content.decode()
    assert "Nora" in html and "Sid" not in html


def test_host_attendee_list_shows_answers_and_links_to_the_tools(client, hosted):
    from clarion.events.models import Question
    from clarion.events.services import rsvp_change

    event, token, going, _waiting = hosted
    question = Question.objects.create(event=event, text="Bringing a flask?")
    rsvp_change(rsvp=going[0], guests=0, shift_ids=[], answers={question.pk: "Yes, tea"})
    html = client.get(reverse("events:host", kwargs={"pk": event.pk, "token": token})).content
    html = html.decode()
    assert "Bringing a flask?" in html and "Yes, tea" in html
    assert reverse("events:host_message", kwargs={"pk": event.pk, "token": token}) in html
    assert reverse("events:host_sheet", kwargs={"pk": event.pk, "token": token}) in html


def test_member_host_records_canvass_results_through_the_host_link(client, hosted, areas):
    event, token, going, waiting = hosted
    existing = factories.person(
        postcode=areas.postcodes["north"],
        first_name="Dot",
        last_name="Privateer",
        email="dot@example.net",
        phone="+447911000123",
    )
    url = reverse("events:host_canvass", kwargs={"pk": event.pk, "token": token})
    host_page = client.get(reverse("events:host", kwargs={"pk": event.pk, "token": token}))
    assert url in host_page.content.decode()
    response = client.post(
        url,
        {
            "first_name": "Dot",
            "email": "dot@example.net",
            "outcome": "spoke",
            "support_level": "4",
            "note": "Wants a bus shelter",
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Result recorded" in page and "1 contact" in page
    # The host learns nothing they did not type: not the stored surname or phone.
    assert "Privateer" not in page and "+447911000123" not in page
    result = CanvassResult.objects.get(event=event)
    assert result.person == existing and result.support_level == 4 and result.recorded_by is None
    timeline = Activity.objects.filter(person=existing, kind=Activity.Kind.EVENT).first()
    assert "Canvassed at" in timeline.summary and "support 4/5" in timeline.summary
    # A new contact is added with the details given.
    client.post(
        url,
        {
            "first_name": "Eve",
            "phone": "07911 000456",
            "postcode": "LS1 4AP",
            "outcome": "not_home",
        },
    )
    assert CanvassResult.objects.filter(event=event).count() == 2
    assert Person.objects.get(first_name="Eve").area == areas.leeds_central


def test_host_canvass_refuses_bad_input_and_forged_links(client, hosted):
    event, token, going, waiting = hosted
    url = reverse("events:host_canvass", kwargs={"pk": event.pk, "token": token})
    for data in (
        {"first_name": "Dot", "outcome": "spoke"},  # no email or phone
        {"first_name": "Dot", "email": "dot@example.net", "outcome": "sang"},
        {"first_name": "Dot", "email": "dot@example.net", "outcome": "spoke", "support_level": "9"},
        {"first_name": "Dot", "email": "dot@example.net", "outcome": "spoke", "postcode": "NOPE"},
    ):
        response = client.post(url, data)
        assert response.status_code == 400 and response.context["form"].errors
    assert not CanvassResult.objects.exists()
    assert not Person.objects.filter(email="dot@example.net").exists()
    forged = reverse("events:host_canvass", kwargs={"pk": event.pk, "token": "bad-token"})
    assert client.get(forged).status_code == 404
    other = make_event(title="Other canvass")
    stolen = reverse("events:host_canvass", kwargs={"pk": other.pk, "token": token})
    assert (
        client.post(
            stolen, {"first_name": "Dot", "email": "d@example.net", "outcome": "spoke"}
        ).status_code
        == 404
    )
    social = make_event(title="Quiz night", kind="social")
    social_url = reverse(
        "events:host_canvass", kwargs={"pk": social.pk, "token": host_token(social)}
    )
    assert client.get(social_url).status_code == 404
