"""Staff pages: the list and templates, a journey drawn with its figures, status
changes, and the organiser's to-dos; organisers see only their area's journeys."""

from __future__ import annotations

import pytest

from clarion.journeys import engine, services
from clarion.journeys.models import Enrolment, Journey, Todo

from .conftest import make_journey

pytestmark = pytest.mark.django_db

CALL = [
    {
        "key": "call",
        "type": "human",
        "config": {"note": "Phone <b>them</b> about hosting"},
        "next": "wait",
    },
    {"key": "wait", "type": "wait", "config": {"days": 2}},
]


def test_staff_make_a_journey_from_a_template_and_publish_it(admin_client, admin):
    response = admin_client.get("/staff/journeys/")
    assert response.status_code == 200
    assert "Petition signer → donor" in response.content.decode()

    response = admin_client.post(
        "/staff/journeys/",
        {"template": "petition_donate", "from_name": "HQ", "from_email": "hq@example.org"},
    )
    journey = Journey.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/staff/journeys/{journey.pk}/"
    assert journey.status == "draft" and journey.trigger_type == "action"

    admin_client.post(f"/staff/journeys/{journey.pk}/status/", {"move": "publish"})
    journey.refresh_from_db()
    assert journey.status == "published"
    page = admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert 'id="journey-drawing"' in page and "Will you chip in" in page


def test_bad_template_input_is_a_form_error(admin_client):
    response = admin_client.post(
        "/staff/journeys/", {"template": "nope", "from_name": "", "from_email": "x"}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Journey.objects.exists()


def test_the_drawing_shows_each_steps_figures_with_text_escaped(
    admin_client, admin, north_person, south_person
):
    journey = make_journey(admin, CALL)
    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due()
    page = admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert "entered 2 · waiting 0 · passed 2" in page  # the human step
    assert "entered 2 · waiting 2 · passed 0" in page  # the wait
    assert "<b>them</b>" not in page and "&lt;b&gt;them&lt;/b&gt;" in page


def test_archiving_asks_first(admin_client, admin, north_person):
    journey = make_journey(admin, CALL)
    services.enrol(journey=journey, person_id=north_person.pk)
    url = f"/staff/journeys/{journey.pk}/status/"
    response = admin_client.post(url, {"move": "archive"})
    assert response.status_code == 200 and "Archive it" in response.content.decode()
    journey.refresh_from_db()
    assert journey.status == "published"
    admin_client.post(url, {"move": "archive", "confirm": "yes"})
    journey.refresh_from_db()
    assert journey.status == "archived"
    assert Enrolment.objects.get().state == "left"


def test_a_status_change_that_is_not_allowed_is_a_message_not_an_error(admin_client, admin):
    journey = make_journey(admin, CALL, publish=False)
    response = admin_client.post(
        f"/staff/journeys/{journey.pk}/status/", {"move": "pause"}, follow=True
    )
    assert response.status_code == 200
    assert "cannot be changed that way" in response.content.decode()
    response = admin_client.post(
        f"/staff/journeys/{journey.pk}/status/", {"move": "explode"}, follow=True
    )
    assert "Choose publish, pause, archive or back to draft" in response.content.decode()


def test_organisers_see_only_their_areas_journeys(client, organiser, south_organiser):
    north = make_journey(organiser, CALL, name="North ladder")
    south = make_journey(south_organiser, CALL, name="South ladder")
    client.force_login(organiser)
    page = client.get("/staff/journeys/").content.decode()
    assert "North ladder" in page and "South ladder" not in page
    assert client.get(f"/staff/journeys/{north.pk}/").status_code == 200
    assert client.get(f"/staff/journeys/{south.pk}/").status_code == 404
    assert client.post(f"/staff/journeys/{south.pk}/status/", {"move": "pause"}).status_code == 404
    south.refresh_from_db()
    assert south.status == "published"


def test_an_analyst_can_look_but_not_change(client, analyst, admin):
    journey = make_journey(admin, CALL)
    client.force_login(analyst)
    assert client.get(f"/staff/journeys/{journey.pk}/").status_code == 200
    assert (
        client.post(f"/staff/journeys/{journey.pk}/status/", {"move": "pause"}).status_code == 403
    )
    assert client.post("/staff/journeys/", {"template": "welcome"}).status_code == 403


def test_the_organiser_marks_a_to_do_done_from_their_list(
    client, admin, organiser, south_organiser, north_person
):
    journey = make_journey(admin, CALL)
    services.enrol(journey=journey, person_id=north_person.pk)
    engine.advance_due()
    todo = Todo.objects.get()
    client.force_login(south_organiser)
    assert "Phone" not in client.get("/staff/journeys/todos/").content.decode()
    assert client.post(f"/staff/journeys/todos/{todo.pk}/", {"status": "done"}).status_code == 404

    client.force_login(organiser)
    page = client.get("/staff/journeys/todos/").content.decode()
    assert "Nora North" in page and "&lt;b&gt;them&lt;/b&gt;" in page
    response = client.post(f"/staff/journeys/todos/{todo.pk}/", {"status": "bogus"})
    assert response.status_code == 302
    todo.refresh_from_db()
    assert todo.status == "open"
    client.post(f"/staff/journeys/todos/{todo.pk}/", {"status": "done", "note": "Will host in May"})
    todo.refresh_from_db()
    assert (todo.status, todo.outcome_note, todo.done_by) == ("done", "Will host in May", organiser)
    assert "Nothing to do." in client.get("/staff/journeys/todos/").content.decode()


def test_the_page_counts_conversions_and_the_money_given_since_entering(
    admin_client, admin, north_person, south_person
):
    from datetime import timedelta

    from django.utils import timezone

    from clarion.actions.models import ActionPage
    from clarion.donations import services as donations

    page = ActionPage.objects.create(
        kind=ActionPage.Kind.DONATION,
        slug="give",
        title="Give",
        status="live",
        suggested_amounts=[500],
    )

    def give(person, pence):
        d = donations.donation_start(
            page=page,
            person=person,
            amount_pence=pence,
            currency="GBP",
            recurring=False,
            attribution={},
        ).donation
        donations.donation_succeed(donation_id=d.pk)

    give(north_person, 9900)  # before entering: not counted
    from clarion.donations.models import Donation

    Donation.objects.update(succeeded_at=timezone.now() - timedelta(days=1))
    journey = make_journey(
        admin,
        [
            {"key": "wait", "type": "wait", "config": {"days": 1}, "next": "goal"},
            {
                "key": "goal",
                "type": "goal",
                "config": {
                    "definition": {
                        "op": "all",
                        "conditions": [{"type": "donated", "amount": "100"}],
                    }
                },
            },
        ],
    )
    from clarion.journeys.models import Enrolment as E

    for p in (north_person, south_person):
        services.enrol(journey=journey, person_id=p.pk)
    engine.advance_due()
    give(north_person, 1500)
    engine.advance_due(now=timezone.now() + timedelta(days=2))

    page_html = admin_client.get(f"/staff/journeys/{journey.pk}/").content.decode()
    assert E.objects.get(person=north_person).state == "converted"
    assert E.objects.get(person=south_person).state == "completed"
    totals = page_html.split('id="journey-totals"')[1].split("</dl>")[0]
    assert "£15.00" in totals


def test_editing_the_steps_of_a_published_journey_makes_a_new_version(
    admin_client, admin, north_person
):
    import json

    journey = make_journey(admin, CALL)
    services.enrol(journey=journey, person_id=north_person.pk)
    url = f"/staff/journeys/{journey.pk}/steps/"
    assert '"key": "call"' in admin_client.get(url).content.decode().replace("&quot;", '"')

    bad = admin_client.post(
        url, {"steps": json.dumps([{"key": "x", "type": "wait", "config": {}}])}
    )
    assert bad.status_code == 400 and "how long to wait" in bad.content.decode()
    assert admin_client.post(url, {"steps": "[{"}).status_code == 400

    ok = admin_client.post(url, {"steps": json.dumps([{"key": "bye", "type": "end"}])})
    assert ok.status_code == 302
    journey.refresh_from_db()
    assert journey.version == 2
    assert Enrolment.objects.get().step.key == "call"  # still on version 1


def test_a_journey_is_duplicated_as_a_draft(admin_client, admin):
    journey = make_journey(admin, CALL, name="Ladder")
    response = admin_client.post(f"/staff/journeys/{journey.pk}/duplicate/")
    copy = Journey.objects.exclude(pk=journey.pk).get()
    assert response["Location"] == f"/staff/journeys/{copy.pk}/"
    assert (copy.name, copy.status) == ("Copy of Ladder", "draft")
    assert services.journey_export(copy)["steps"] == services.journey_export(journey)["steps"]


def test_a_long_step_title_is_cut_to_fit_its_box():
    from clarion.journeys.drawing import TITLE_CHARS, _fit

    short = "Email: Thanks"
    long = "Email: " + "Will you chip in to keep the campaign on the road this winter? " * 2
    assert _fit(short) == short
    cut = _fit(long)
    assert len(cut) == TITLE_CHARS and cut.endswith("…") and long.startswith(cut[:-1])
