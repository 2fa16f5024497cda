"""Messages (Action Network's mass emails) are Clarion's mailings, over HTTP."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clarion.api.models import ApiKey
from clarion.core.testing import factories
from clarion.core.testing.smtp import smtp_server  # noqa: F401
from clarion.mailings.models import FromAddress, Mailing, Recipient
from clarion.mailings.tests.helpers import run_tasks
from clarion.people.models import EmailStatus, PersonList, Segment
from clarion.people.services import email_status_set, list_add

from .conftest import make_api

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mail_settings(settings):
    settings.SITE_URL = "https://clarion.example.org"
    settings.CLARION_MAILINGS_VERP_DOMAIN = "bounces.example.org"
    settings.CLARION_MAILINGS_SENDERS = 1
    return settings


@pytest.fixture
def people(areas, north_person, south_person):
    nell = factories.person(
        postcode=areas.postcodes["north2"],
        first_name="Nell",
        last_name="Northby",
        email="nell@example.net",
    )
    for p in (north_person, south_person, nell):
        email_status_set(person=p, status=EmailStatus.SUBSCRIBED)
    return {"nora": north_person, "sid": south_person, "nell": nell}


@pytest.fixture
def everyone(areas):
    return Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})


@pytest.fixture
def both_list(people):
    plist = PersonList.objects.create(name="Leaflet team")
    for p in people.values():
        list_add(person=p, plist=plist)
    return plist


@pytest.fixture
def from_addresses(areas):
    return {
        "north": FromAddress.objects.create(area=areas.north, email="north@clarion.example.org"),
        "south": FromAddress.objects.create(area=areas.south, email="south@clarion.example.org"),
    }


def payload(**extra) -> dict:
    data = {
        "subject": "Save the library",
        "body": "<p>The council should keep the library open, {{ first_name|default:'friend' }}.</p>",
        "from": "Clarion HQ",
        "reply_to": "hq@clarion.example.org",
    }
    data.update(extra)
    return data


def query_href(segment) -> str:
    return f"http://testserver/api/v2/queries/{segment.pk}"


def list_href(plist) -> str:
    return f"http://testserver/api/v2/lists/{plist.pk}"


def test_create_message_makes_a_draft_mailing_targeting_the_query(
    admin_api, admin, people, everyone
):
    response = admin_api.post("messages", payload(targets=[{"href": query_href(everyone)}]))
    assert response.status_code == 200
    doc = response.json()
    mailing = Mailing.objects.get()
    assert f"action_network:{mailing.pk}" in doc["identifiers"]
    assert doc["status"] == "draft" and doc["type"] == "email"
    assert doc["subject"] == "Save the library" and doc["from"] == "Clarion HQ"
    assert doc["reply_to"] == "hq@clarion.example.org"
    assert doc["targets"] == [{"href": query_href(everyone)}]
    assert doc["total_targeted"] == 3
    assert doc["statistics"]["sent"] == 0
    assert doc["_links"]["osdi:send_helper"]["href"].endswith(f"/messages/{mailing.pk}/send")
    assert mailing.segment == everyone and mailing.status == Mailing.Status.DRAFT
    assert mailing.body_format == Mailing.BodyFormat.HTML
    assert mailing.from_email == admin.email and mailing.name == "Save the library"
    assert mailing.area is None


def test_messages_collection_and_single_message(admin_api, admin, everyone):
    for n in range(3):
        admin_api.post("messages", payload(subject=f"Appeal {n}", name=f"appeal-{n}"))
    listing = admin_api.get("messages", per_page=2).json()
    assert listing["total_records"] == 3 and listing["total_pages"] == 2
    assert len(listing["_embedded"]["osdi:messages"]) == 2
    first = Mailing.objects.order_by("pk").first()
    single = admin_api.get(f"messages/{first.pk}").json()
    assert single["name"] == "appeal-0" and single["status"] == "draft"
    assert admin_api.get("messages/999999").status_code == 404
    assert admin_api.get("messages/not-a-number").status_code == 404


def test_update_changes_only_the_fields_given(admin_api, everyone, both_list):
    created = admin_api.post("messages", payload(targets=[{"href": query_href(everyone)}])).json()
    mid = created["identifiers"][0].split(":")[1]
    response = admin_api.put(
        f"messages/{mid}",
        {"subject": "Please save the library", "targets": [{"href": list_href(both_list)}]},
    )
    assert response.status_code == 200
    mailing = Mailing.objects.get(pk=mid)
    assert mailing.subject == "Please save the library"
    assert mailing.from_name == "Clarion HQ"
    assert mailing.person_list == both_list and mailing.segment is None
    assert response.json()["targets"] == [{"href": list_href(both_list)}]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"body": "<p>Hi</p>", "from": "HQ"}, "subject"),
        ({**payload(), "colour": "red"}, "Unknown message fields: colour"),
        ({**payload(), "subject": 5}, "subject must be text"),
        ({**payload(), "reply_to": "not an address"}, "reply_to must be an email address"),
        ({**payload(), "type": "sms"}, "email messages only"),
        ({**payload(), "targets": "everyone"}, "targets must be a list"),
        (
            {**payload(), "targets": [{"href": "https://elsewhere.example/api/v2/wrappers/1"}]},
            "list or a query",
        ),
        ({**payload(), "targets": [{"href": "/api/v2/queries/999999"}]}, "Couldn't find query"),
        ({**payload(), "body": "{% load evil %}"}, "body"),
        ({**payload(), "subject": "x" * 251}, "at most 250"),
    ],
)
def test_bad_message_input_answers_400_json(admin_api, body, needle):
    response = admin_api.post("messages", body)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert not Mailing.objects.exists()


def test_more_than_one_target_is_refused_rather_than_narrowed(admin_api, everyone, both_list):
    response = admin_api.post(
        "messages",
        payload(targets=[{"href": query_href(everyone)}, {"href": list_href(both_list)}]),
    )
    assert response.status_code == 400
    assert "at most one target" in response.json()["error"]


def test_not_json_and_empty_bodies_answer_400(admin_api):
    assert admin_api.post("messages", "{not json").status_code == 400
    assert "not valid JSON" in admin_api.post("messages", "{not json").json()["error"]
    assert admin_api.post("messages", "[1, 2]").status_code == 400


def test_read_only_key_cannot_create_or_send(client, admin, everyone):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    response = api.post("messages", payload())
    assert response.status_code == 403 and "read only" in response.json()["error"]


def test_schedule_sets_the_start_time(admin_api, people, everyone, mail_settings):
    created = admin_api.post("messages", payload(targets=[{"href": query_href(everyone)}])).json()
    mid = created["identifiers"][0].split(":")[1]
    when = (timezone.now() + datetime.timedelta(days=2)).replace(microsecond=0)
    response = admin_api.post(
        f"messages/{mid}/schedule", {"scheduled_start_date": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    assert response.status_code == 200
    assert response.json() == {"message": "Your message has been scheduled"}
    mailing = Mailing.objects.get(pk=mid)
    assert mailing.status == Mailing.Status.SCHEDULED and mailing.scheduled_at == when
    doc = admin_api.get(f"messages/{mid}").json()
    assert doc["status"] == "scheduled"
    assert doc["scheduled_start_date"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "Give scheduled_start_date"),
        ({"scheduled_start_date": "next tuesday"}, "is not a time"),
        ({"scheduled_start_date": "2001-01-01T00:00:00Z"}, "must be in the future"),
        ({"scheduled_start_date": "2031-02-30T00:00:00Z"}, "is not a time"),
    ],
)
def test_bad_schedule_answers_400(admin_api, everyone, body, needle):
    created = admin_api.post("messages", payload(targets=[{"href": query_href(everyone)}])).json()
    mid = created["identifiers"][0].split(":")[1]
    response = admin_api.post(f"messages/{mid}/schedule", body)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert Mailing.objects.get(pk=mid).status == Mailing.Status.DRAFT


def test_a_message_with_nobody_targeted_cannot_be_sent(admin_api, mail_settings):
    created = admin_api.post("messages", payload()).json()
    mid = created["identifiers"][0].split(":")[1]
    response = admin_api.post(f"messages/{mid}/send", {})
    assert response.status_code == 400
    assert "Choose a segment or a list" in response.json()["error"]
    assert Mailing.objects.get(pk=mid).status == Mailing.Status.DRAFT


def test_send_delivers_and_reports_statistics(
    admin_api,
    people,
    everyone,
    smtp_server,  # noqa: F811
    mail_settings,
    django_capture_on_commit_callbacks,
):
    created = admin_api.post("messages", payload(targets=[{"href": query_href(everyone)}])).json()
    mid = created["identifiers"][0].split(":")[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"messages/{mid}/send", {})
    assert response.status_code == 200
    assert response.json() == {"message": "Your email has been sent."}
    run_tasks(django_capture_on_commit_callbacks)
    received = sorted(a for m in smtp_server.wait_for(3) for a in m.envelope_to)
    assert received == ["nell@example.net", "nora@example.net", "sid@example.net"]
    doc = admin_api.get(f"messages/{mid}").json()
    assert doc["status"] == "sent"
    assert doc["total_targeted"] == 3 and doc["statistics"]["sent"] == 3
    assert doc["sent_start_date"] and doc["sent_end_date"]
    # A sent message can be neither sent again nor changed.
    again = admin_api.post(f"messages/{mid}/send", {})
    assert again.status_code == 400 and "already been sent" in again.json()["error"]
    changed = admin_api.put(f"messages/{mid}", {"subject": "Too late"})
    assert changed.status_code == 400 and "cannot be changed" in changed.json()["error"]


def test_organiser_key_reaches_only_their_areas_messages(
    client, organiser, south_organiser, areas, everyone, from_addresses
):
    south_segment = Segment.objects.create(
        name="South only",
        owner_area=areas.south,
        created_by=south_organiser,
        definition={"op": "all", "conditions": []},
    )
    south_mailing = Mailing.objects.create(
        name="South mailing",
        subject="Hi",
        from_name="South",
        from_email="south@clarion.example.org",
        body="Hi",
        segment=south_segment,
        area=areas.south,
        created_by=south_organiser,
    )
    north_api = make_api(client, organiser)
    assert north_api.get("messages").json()["total_records"] == 0
    for method, path, body in [
        ("get", f"messages/{south_mailing.pk}", None),
        ("put", f"messages/{south_mailing.pk}", {"subject": "Hijacked"}),
        (
            "post",
            f"messages/{south_mailing.pk}/schedule",
            {"scheduled_start_date": "2031-01-01T00:00:00Z"},
        ),
        ("post", f"messages/{south_mailing.pk}/send", {}),
    ]:
        response = (
            north_api.get(path) if method == "get" else getattr(north_api, method)(path, body)
        )
        assert response.status_code == 404, path
        assert "Couldn't find message" in response.json()["error"]
    south_mailing.refresh_from_db()
    assert south_mailing.subject == "Hi" and south_mailing.status == Mailing.Status.DRAFT
    # Nor can a North key target the South's segment.
    refused = north_api.post("messages", payload(targets=[{"href": query_href(south_segment)}]))
    assert refused.status_code == 400 and "Couldn't find query" in refused.json()["error"]


def test_organiser_message_comes_from_an_allowed_address(client, organiser, areas, from_addresses):
    north_api = make_api(client, organiser)
    response = north_api.post("messages", payload())
    assert response.status_code == 200
    mailing = Mailing.objects.get()
    assert mailing.area == areas.north and mailing.from_email == "north@clarion.example.org"
    refused = north_api.post("messages", payload(from_email="south@clarion.example.org"))
    assert refused.status_code == 400 and "not allowed for this area" in refused.json()["error"]


def test_area_key_of_a_national_admin_mails_only_inside_its_area(
    client,
    admin,
    areas,
    people,
    both_list,
    from_addresses,
    smtp_server,  # noqa: F811
    mail_settings,
    django_capture_on_commit_callbacks,
):
    """Invariant 4: the list holds North and South people, the key is narrowed to the
    North, so only the North people get the email."""
    api = make_api(client, admin, area=areas.north)
    created = api.post("messages", payload(targets=[{"href": list_href(both_list)}]))
    assert created.status_code == 200
    mailing = Mailing.objects.get()
    assert mailing.area == areas.north and mailing.from_email == "north@clarion.example.org"
    assert created.json()["total_targeted"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"messages/{mailing.pk}/send", {}).status_code == 200
    run_tasks(django_capture_on_commit_callbacks)
    received = sorted(a for m in smtp_server.wait_for(2) for a in m.envelope_to)
    assert received == ["nell@example.net", "nora@example.net"]
    assert smtp_server.wait_for(3, timeout=0.5)[2:] == []
    assert not Recipient.objects.filter(mailing=mailing, person=people["sid"]).exists()
    # A national mailing is out of this key's reach.
    national = Mailing.objects.create(
        name="National",
        subject="Hi",
        from_name="HQ",
        from_email="hq@example.org",
        body="Hi",
        person_list=both_list,
    )
    assert api.get(f"messages/{national.pk}").status_code == 404


def test_stop_pauses_a_sending_message(admin_api, people, everyone, mail_settings):
    created = admin_api.post("messages", payload(targets=[{"href": query_href(everyone)}])).json()
    mid = created["identifiers"][0].split(":")[1]
    not_sending = admin_api.delete(f"messages/{mid}/send")
    assert not_sending.status_code == 400 and "not sending" in not_sending.json()["error"]
    assert admin_api.post(f"messages/{mid}/send", {}).status_code == 200
    stopped = admin_api.delete(f"messages/{mid}/send")
    assert stopped.status_code == 200
    assert admin_api.get(f"messages/{mid}").json()["status"] == "stopped"
