"""A public submission is evidence, not an edit: what differs from a stored person
becomes a proposed change, applied only by the mailbox owner's link or in-scope staff."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.core.testing.smtp import body_text
from clarion.people.models import Activity, EmailStatus, Person, ProposedChange
from clarion.people.services import person_upsert


def public(**fields):
    return person_upsert(public=True, source_code="action:test", **fields)


def stored(person: Person) -> dict:
    person.refresh_from_db()
    return {
        f: getattr(person, f)
        for f in (
            "first_name",
            "last_name",
            "address_line1",
            "town",
            "postcode",
            "phone",
            "area_id",
            "email",
            "email_status",
            "custom_fields",
        )
    }


def test_public_submission_never_changes_an_existing_person(north_person, areas):
    before = stored(north_person)
    result = public(
        email="NORA@example.net ",
        first_name="Mallory",
        last_name="Intruder",
        postcode=areas.postcodes["south"],
        phone="07911 123456",
        town="Elsewhere",
    )
    assert result.person.pk == north_person.pk and not result.created
    assert stored(north_person) == before
    proposal = result.proposal
    assert proposal.status == ProposedChange.Status.PENDING
    assert proposal.changes["first_name"] == {"old": "Nora", "new": "Mallory"}
    assert proposal.changes["postcode"]["new"] == areas.postcodes["south"]
    assert proposal.changes["phone"]["new"] == "+447911123456"
    assert set(proposal.changes) == {"first_name", "last_name", "postcode", "phone", "town"}
    assert north_person.activities.filter(kind=Activity.Kind.PROPOSED).exists()


def test_filling_a_blank_postcode_is_proposed_too(areas):
    # A postcode typed for someone with none would move them into an area.
    person = factories.person(email="blank@example.net", first_name="Bea")
    assert person.area_id is None
    result = public(email="blank@example.net", postcode=areas.postcodes["north"])
    person.refresh_from_db()
    assert person.area_id is None and person.postcode == ""
    assert result.proposal.changes == {"postcode": {"old": "", "new": areas.postcodes["north"]}}


def test_same_details_propose_nothing(north_person):
    result = public(email="nora@example.net", first_name="Nora", last_name="North")
    assert result.proposal is None
    assert not ProposedChange.objects.exists()


def test_new_people_are_created_as_before(areas):
    result = public(email="new@example.net", first_name="Newt", postcode=areas.postcodes["south"])
    assert result.created and result.proposal is None
    assert result.person.first_name == "Newt" and result.person.area_id == areas.bristol_east.pk


def test_a_typed_phone_never_attaches_a_new_email_to_someone_else(areas):
    victim = factories.person(email="", phone="07400 123456", first_name="Vic")
    victim.email = None
    Person.objects.filter(pk=victim.pk).update(email=None)
    result = public(email="attacker@example.net", phone="07400123456", first_name="Mal")
    assert result.person.pk != victim.pk
    victim.refresh_from_db()
    assert victim.email is None and victim.first_name == "Vic"
    assert not victim.other_emails.exists()


@pytest.mark.parametrize(
    "status", [EmailStatus.UNSUBSCRIBED, EmailStatus.BOUNCING, EmailStatus.COMPLAINED]
)
def test_consent_on_a_public_form_never_resubscribes_by_itself(north_person, status):
    Person.objects.filter(pk=north_person.pk).update(email_status=status)
    result = public(email="nora@example.net", email_status=EmailStatus.SUBSCRIBED)
    north_person.refresh_from_db()
    assert north_person.email_status == status
    assert result.proposal.changes["email_status"]["new"] == EmailStatus.SUBSCRIBED


def test_someone_with_no_status_may_be_subscribed_directly(north_person):
    assert north_person.email_status == EmailStatus.NONE
    result = public(email="nora@example.net", email_status=EmailStatus.SUBSCRIBED)
    north_person.refresh_from_db()
    assert north_person.email_status == EmailStatus.SUBSCRIBED
    assert result.proposal is None


def test_the_same_proposal_again_reuses_the_pending_one(north_person):
    first = public(email="nora@example.net", first_name="Nell").proposal
    again = public(email="nora@example.net", first_name="Nell").proposal
    assert again.pk == first.pk
    other = public(email="nora@example.net", first_name="Nan").proposal
    first.refresh_from_db()
    assert other.pk != first.pk and first.status == ProposedChange.Status.SUPERSEDED


def _link(message) -> str:
    return re.search(r"https?://\S+/you/details/\S+/", body_text(message)).group(0)


@pytest.mark.django_db(transaction=True)
def test_mailbox_owner_confirms_by_the_emailed_link_once(client, smtp_server, areas):
    person = factories.person(
        email="owner@example.net", first_name="Olive", postcode=areas.postcodes["north"]
    )
    Person.objects.filter(pk=person.pk).update(email_status=EmailStatus.UNSUBSCRIBED)
    public(
        email="owner@example.net",
        first_name="Olivia",
        postcode=areas.postcodes["south"],
        email_status=EmailStatus.SUBSCRIBED,
        consent=None,
    )
    call_command("worker", "--batch")
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "owner@example.net"
    assert "Olivia" in body_text(message) and "Olive" in body_text(message)
    path = _link(message).split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200 and "Olivia" in page.content.decode()
    stored_before = stored(person)
    assert stored_before["first_name"] == "Olive"  # a GET (a mail scanner) changes nothing
    done = client.post("/" + path, {"decision": "confirm"})
    assert "your details are updated" in done.content.decode()
    person.refresh_from_db()
    assert person.first_name == "Olivia"
    assert person.area_id == areas.bristol_east.pk
    assert person.email_status == EmailStatus.SUBSCRIBED
    assert AuditEntry.objects.filter(object_type="person", object_id=str(person.pk)).exists()
    again = client.post("/" + path, {"decision": "confirm"})
    assert again.status_code == 404 and "already been used" in again.content.decode()
    call_command("worker", "--batch")
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1  # the email went once


def test_an_expired_or_forged_link_changes_nothing(client, north_person):
    from clarion.people.proposals import proposal_token

    proposal = public(email="nora@example.net", first_name="Nell").proposal
    ProposedChange.objects.filter(pk=proposal.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    url = reverse("people_public:proposal", kwargs={"token": proposal_token(proposal)})
    assert client.post(url, {"decision": "confirm"}).status_code == 404
    forged = reverse("people_public:proposal", kwargs={"token": "1:abc"})
    assert client.post(forged, {"decision": "confirm"}).status_code == 404
    north_person.refresh_from_db()
    assert north_person.first_name == "Nora"


def test_owner_can_turn_the_change_down(client, north_person):
    from clarion.people.proposals import proposal_token

    proposal = public(email="nora@example.net", first_name="Nell").proposal
    url = reverse("people_public:proposal", kwargs={"token": proposal_token(proposal)})
    response = client.post(url, {"decision": "dismiss"})
    assert "Nothing was changed" in response.content.decode()
    proposal.refresh_from_db()
    north_person.refresh_from_db()
    assert proposal.status == ProposedChange.Status.DISMISSED
    assert north_person.first_name == "Nora"


def test_staff_see_old_and_new_side_by_side_and_accept(client, organiser, north_person, areas):
    Person.objects.filter(pk=north_person.pk).update(email_status=EmailStatus.UNSUBSCRIBED)
    proposal = public(
        email="nora@example.net",
        last_name="Northcote",
        postcode=areas.postcodes["north2"],
        email_status=EmailStatus.SUBSCRIBED,
    ).proposal
    client.force_login(organiser)
    page = client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert "Proposed change of details" in page
    assert "North" in page and "Northcote" in page
    url = reverse("people:proposal_decide", args=[north_person.pk, proposal.pk])
    client.post(url, {"decision": "accept"})
    north_person.refresh_from_db()
    assert north_person.last_name == "Northcote"
    assert north_person.postcode == areas.postcodes["north2"]
    # Only the person's own click resubscribes them.
    assert north_person.email_status == EmailStatus.UNSUBSCRIBED
    assert AuditEntry.objects.filter(actor=organiser, summary__contains="accepted").exists()


def test_staff_outside_the_persons_area_cannot_decide(client, south_organiser, north_person):
    proposal = public(email="nora@example.net", first_name="Nell").proposal
    client.force_login(south_organiser)
    url = reverse("people:proposal_decide", args=[north_person.pk, proposal.pk])
    assert client.post(url, {"decision": "accept"}).status_code == 404
    north_person.refresh_from_db()
    proposal.refresh_from_db()
    assert north_person.first_name == "Nora" and proposal.status == ProposedChange.Status.PENDING


def test_analysts_cannot_accept(client, analyst, north_person):
    proposal = public(email="nora@example.net", first_name="Nell").proposal
    client.force_login(analyst)
    url = reverse("people:proposal_decide", args=[north_person.pk, proposal.pk])
    assert client.post(url, {"decision": "accept"}).status_code in (403, 404)
    north_person.refresh_from_db()
    assert north_person.first_name == "Nora"
