"""Staff pages for testing a journey (pick a person in scope, see the test's log) and
for choosing its trigger (kind, then that kind's settings, scope-checked)."""

from __future__ import annotations

import pytest

from clarion.actions.models import ActionPage
from clarion.journeys.models import Journey, TestRun
from clarion.people.models import Segment

from .conftest import email_config, make_journey

pytestmark = [
    pytest.mark.usefixtures("mail_settings", "from_addresses"),
    pytest.mark.django_db,
]

STEPS = [
    {"key": "hello", "type": "email", "config": email_config(), "next": "tag"},
    {"key": "tag", "type": "tag_add", "config": {"tag": "welcomed"}, "next": "wait"},
    {"key": "wait", "type": "wait", "config": {"days": 2}},
]
CALL = [{"key": "call", "type": "human", "config": {"note": "Phone them"}}]


def test_staff_find_a_person_and_start_a_test_then_see_its_log(
    admin_client, admin, nora, smtp_server
):
    journey = make_journey(admin, STEPS, publish=False)
    page = admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert "Test this journey" in page and 'id="test-run"' not in page

    found = admin_client.get(f"/staff/journeys/{journey.pk}/test/", {"q": "nora@example"})
    assert found.status_code == 200
    assert f'data-person="{nora.pk}"' in found.content.decode()

    response = admin_client.post(f"/staff/journeys/{journey.pk}/test/", {"person": nora.pk})
    assert response.status_code == 302
    assert response["Location"] == f"/staff/journeys/{journey.pk}/#test-run"
    journey.refresh_from_db()
    assert journey.status == Journey.Status.TEST
    smtp_server.wait_for(1)
    page = admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert 'id="test-run-log"' in page
    assert "Would add the tag “welcomed”" in page
    assert "Sent to admin@example.org" in page
    assert "Back to draft" in page and "Edit steps" not in page
    assert "Test again" in page

    admin_client.post(f"/staff/journeys/{journey.pk}/status/", {"move": "draft"})
    journey.refresh_from_db()
    assert journey.status == Journey.Status.DRAFT
    assert TestRun.objects.get().state == TestRun.State.STOPPED


def test_the_person_search_never_finds_anyone_outside_the_scope(
    organiser_client, organiser, nora, sid
):
    journey = make_journey(organiser, CALL, publish=False)
    url = f"/staff/journeys/{journey.pk}/test/"
    page = organiser_client.get(url, {"q": "South"}).content.decode()
    assert f'data-person="{sid.pk}"' not in page and "Nobody you can reach" in page
    page = organiser_client.get(url, {"q": "sid@example.net"}).content.decode()
    assert f'data-person="{sid.pk}"' not in page
    # Posting someone out of scope by id is refused with a message, not a 500.
    response = organiser_client.post(url, {"person": sid.pk})
    assert response.status_code == 400
    assert "Choose a person you can reach" in response.content.decode()
    assert not TestRun.objects.exists()
    response = organiser_client.post(url, {"person": "x"})
    assert response.status_code == 400
    assert "Choose the person to test with" in response.content.decode()


def test_an_empty_search_is_a_form_error(admin_client, admin):
    journey = make_journey(admin, CALL, publish=False)
    response = admin_client.get(f"/staff/journeys/{journey.pk}/test/", {"q": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_a_published_journey_cannot_be_tested(admin_client, admin, nora):
    journey = make_journey(admin, CALL)
    page = admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert "Test this journey" not in page
    response = admin_client.post(f"/staff/journeys/{journey.pk}/test/", {"person": nora.pk})
    assert response.status_code == 400
    assert "Only a draft journey can be tested" in response.content.decode()


def test_the_log_of_a_test_with_someone_out_of_scope_is_not_shown(
    admin, organiser, client, south_person
):
    from clarion.journeys import services

    journey = make_journey(organiser, CALL, publish=False)
    services.journey_test_start(journey=journey, actor=admin, person_id=south_person.pk)
    client.force_login(organiser)
    page = client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert "With someone outside your area" in page
    assert "Sid" not in page and 'id="test-run-log"' not in page


def test_staff_choose_a_trigger_kind_then_its_settings(admin_client, admin):
    journey = make_journey(admin, CALL, publish=False)
    url = f"/staff/journeys/{journey.pk}/trigger/"
    page = admin_client.get(url).content.decode()
    assert "Tag added" in page and 'name="s-tag"' in page  # the current kind's settings

    page = admin_client.get(url, {"kind": "gave"}).content.decode()
    assert 'name="s-which"' in page and 'name="s-amount"' in page
    response = admin_client.post(url, {"kind": "gave", "s-which": "at_least", "s-amount": ""})
    assert response.status_code == 400
    assert "Give the amount." in response.content.decode()
    response = admin_client.post(url, {"kind": "gave", "s-which": "at_least", "s-amount": "25"})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert (journey.trigger_type, journey.trigger_config) == (
        "gave",
        {"which": "at_least", "amount": "25.00"},
    )
    assert "Gave" in admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()

    response = admin_client.post(url, {"kind": "renews_soon", "s-days": "400"})
    assert response.status_code == 400
    assert "less than or equal to 90" in response.content.decode()
    response = admin_client.post(url, {"kind": "nonsense"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = admin_client.post(url, {"kind": "became_member"})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert (journey.trigger_type, journey.trigger_config) == ("became_member", {})


def test_trigger_choices_are_only_what_the_user_reaches(
    organiser_client, organiser, areas, south_organiser
):
    from clarion.actions.services import page_save

    north = page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION, slug="north-p", title="North petition", area=areas.north
        )
    )
    south = page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION, slug="south-p", title="South petition", area=areas.south
        )
    )
    journey = make_journey(organiser, CALL, publish=False)
    url = f"/staff/journeys/{journey.pk}/trigger/"
    page = organiser_client.get(url, {"kind": "action"}).content.decode()
    assert "North petition" in page and "South petition" not in page
    response = organiser_client.post(url, {"kind": "action", "s-page": str(south.pk)})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    journey.refresh_from_db()
    assert journey.trigger_type == "tag_added"
    response = organiser_client.post(url, {"kind": "action", "s-page": str(north.pk)})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.trigger_config["page"] == north.pk

    # A segment trigger copies the definition of one of the user's saved segments.
    mine = Segment.objects.create(
        name="North donors", owner_area=areas.north, definition={"op": "all", "conditions": []}
    )
    theirs = Segment.objects.create(
        name="South donors", owner_area=areas.south, definition={"op": "all", "conditions": []}
    )
    page = organiser_client.get(url, {"kind": "segment"}).content.decode()
    assert "North donors" in page and "South donors" not in page
    response = organiser_client.post(url, {"kind": "segment", "s-definition": str(theirs.pk)})
    assert response.status_code == 400
    response = organiser_client.post(url, {"kind": "segment", "s-definition": str(mine.pk)})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.trigger_type == "segment"
    assert journey.trigger_config == {"definition": {"op": "all", "conditions": []}}


def test_the_service_checks_the_scope_of_a_named_record(organiser, areas):
    from django.core.exceptions import ValidationError

    from clarion.actions.services import page_save
    from clarion.journeys import services

    south = page_save(
        page=ActionPage(
            kind=ActionPage.Kind.PETITION, slug="south-p", title="South petition", area=areas.south
        )
    )
    journey = make_journey(organiser, CALL, publish=False)
    with pytest.raises(ValidationError, match="You cannot choose that page"):
        services.journey_trigger_set(
            journey=journey,
            actor=organiser,
            trigger_type="action",
            trigger_config={"page": south.pk},
        )


def test_a_published_journeys_trigger_changes_only_when_paused(admin_client, admin):
    journey = make_journey(admin, CALL)
    url = f"/staff/journeys/{journey.pk}/trigger/"
    page = admin_client.get(url).content.decode()
    assert "Pause the journey to change its trigger." in page
    response = admin_client.post(url, {"kind": "became_member"})
    assert response.status_code == 400
    journey.refresh_from_db()
    assert journey.trigger_type == "tag_added"
    admin_client.post(f"/staff/journeys/{journey.pk}/status/", {"move": "pause"})
    response = admin_client.post(url, {"kind": "became_member"})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.trigger_type == "became_member"


def test_an_analyst_cannot_test_or_change_the_trigger(client, analyst, admin, nora):
    journey = make_journey(admin, CALL, publish=False)
    client.force_login(analyst)
    assert client.get(f"/staff/journeys/{journey.pk}/test/").status_code == 403
    assert client.post(f"/staff/journeys/{journey.pk}/trigger/", {"kind": "gave"}).status_code == (
        403
    )
