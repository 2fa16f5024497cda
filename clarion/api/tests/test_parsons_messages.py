"""Parsons' ActionNetwork connector, unchanged, against a live Clarion server: messages
(mailings), lists and items, metadata and custom fields, and background processing."""

from __future__ import annotations

import datetime
import warnings

import pytest
from django.core.management import call_command
from django.utils import timezone

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    from parsons import ActionNetwork

from clarion.api.services import api_key_create
from clarion.mailings.models import Mailing
from clarion.people.models import CustomField, EmailStatus, PersonList, Segment, Tag, Tagging
from clarion.people.services import email_status_set, list_add

pytestmark = pytest.mark.django_db(transaction=True)


def connector(live_server, token: str) -> ActionNetwork:
    an = ActionNetwork(api_token=token)
    an.api_url = f"{live_server.url}/api/v2"
    an.api.uri = f"{live_server.url}/api/v2/"
    return an


def an_id(doc: dict) -> str:
    return [i.split(":")[1] for i in doc["identifiers"] if i.startswith("action_network:")][0]


@pytest.fixture
def an(live_server, admin):
    _key, token = api_key_create(owner=admin, actor=admin)
    return connector(live_server, token)


def test_parsons_creates_updates_schedules_and_sends_messages(
    an, live_server, north_person, south_person, settings
):
    settings.SITE_URL = "https://clarion.example.org"
    for p in (north_person, south_person):
        email_status_set(person=p, status=EmailStatus.SUBSCRIBED)
    everyone = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})

    created = an.create_message(
        {
            "subject": "Stop doing the bad thing",
            "body": "<p>The mayor should stop doing the bad thing.</p>",
            "from": "Progressive Action Now",
            "reply_to": "jane@example.org",
            "targets": [{"href": f"{an.api_url}/queries/{everyone.pk}"}],
            "_links": {"osdi:wrapper": {"href": f"{an.api_url}/wrappers/1"}},
        }
    )
    message_id = an_id(created)
    mailing = Mailing.objects.get(pk=int(message_id))
    assert mailing.subject == "Stop doing the bad thing" and mailing.segment == everyone
    assert created["status"] == "draft" and created["total_targeted"] == 2

    an.update_message(message_id, {"name": "Bad thing send 1", "subject": "Please! Stop"})
    mailing.refresh_from_db()
    assert mailing.name == "Bad thing send 1" and mailing.subject == "Please! Stop"

    fetched = an.get_message(message_id)
    assert fetched["subject"] == "Please! Stop" and fetched["from"] == "Progressive Action Now"
    assert [row["name"] for row in an.get_messages()] == ["Bad thing send 1"]
    assert an.get_messages(page=1)["total_records"] == 1

    when = (timezone.now() + datetime.timedelta(days=1)).replace(microsecond=0)
    answer = an.schedule_message(message_id, when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert answer == {"message": "Your message has been scheduled"}
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SCHEDULED and mailing.scheduled_at == when
    assert an.get_message(message_id)["status"] == "scheduled"

    second = an.create_message(
        {
            "subject": "Now",
            "body": "<p>Now</p>",
            "from": "HQ",
            "reply_to": "hq@example.org",
            "targets": [{"href": f"{an.api_url}/queries/{everyone.pk}"}],
        }
    )
    assert an.send_message(an_id(second)) == {"message": "Your email has been sent."}
    assert Mailing.objects.get(pk=int(an_id(second))).status == Mailing.Status.SENDING


def test_parsons_reads_lists_items_metadata_and_custom_fields(an, north_person, south_person):
    plist = PersonList.objects.create(name="Leaflet team")
    list_add(person=north_person, plist=plist)
    list_add(person=south_person, plist=plist)
    CustomField.objects.create(key="ward_role", label="Ward role", kind="text")

    lists = an.get_lists()
    assert [row["name"] for row in lists] == ["Leaflet team"]
    assert an.get_list(plist.pk)["name"] == "Leaflet team"
    items = an.get_items(plist.pk)
    people = sorted(row["_links"]["osdi:person"]["href"].rsplit("/", 1)[1] for row in items)
    assert people == sorted([str(north_person.pk), str(south_person.pk)])
    item_id = an_id(items[0])
    assert an.get_item(plist.pk, item_id)["item_type"] == "osdi:person"

    metadata = an.get_metadata()
    assert metadata["_links"]["action_network:custom_fields"]["href"].endswith(
        "/metadata/custom_fields"
    )
    fields = an.get_custom_fields()["action_network:custom_fields"]
    assert [f["name"] for f in fields] == ["ward_role"]


def test_parsons_unsupported_campaigns_raise_a_404(an):
    from requests import HTTPError

    with pytest.raises(HTTPError, match="404"):
        an.get_campaigns()


def test_parsons_background_processing_tagging_and_update(an, north_person):
    tag = Tag.objects.create(name="Speaker")
    answer = an.create_tagging(
        tag.pk,
        {"_links": {"osdi:person": {"href": f"{an.api_url}/people/{north_person.pk}"}}},
        background_processing=True,
    )
    assert answer == {}
    an.update_person(north_person.pk, background_processing=True, given_name="Norah")
    assert not Tagging.objects.exists()
    call_command("worker", "--batch")
    assert Tagging.objects.filter(person=north_person, tag=tag).exists()
    north_person.refresh_from_db()
    assert north_person.first_name == "Norah"
