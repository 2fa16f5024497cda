"""The organiser dashboard's "people to contact": the open to-dos that journeys' "ask
a human" steps made, scoped to the viewer's area, marked done or not reached there."""

from __future__ import annotations

import pytest
from django.test import Client

from clarion.journeys import engine, selectors, services
from clarion.journeys.models import Todo

pytestmark = pytest.mark.django_db

ASK = [
    {
        "key": "call",
        "type": "human",
        "config": {"note": "Came to two events: phone <b>them</b> about hosting"},
        "next": "end",
    },
    {"key": "end", "type": "end"},
]


def _todos(admin, *people) -> list[Todo]:
    journey = services.journey_create(
        actor=admin,
        name="Came twice → ask to host",
        trigger_type="tag_added",
        trigger_config={"tag": "came-twice"},
        steps=ASK,
    )
    journey = services.journey_set_status(journey=journey, actor=admin, move="publish")
    for person in people:
        services.enrol(journey=journey, person_id=person.pk)
    engine.advance_due()
    return [Todo.objects.get(person=p) for p in people]


def _todo_ids(body: str) -> set[int]:
    import re

    return {int(n) for n in re.findall(r'data-todo="(\d+)"', body)}


def test_the_organiser_sees_their_areas_to_dos_with_name_reason_and_journey(
    client, admin, organiser, south_organiser, north_person, south_person
):
    north, south = _todos(admin, north_person, south_person)
    assert (north.assignee, south.assignee) == (organiser, south_organiser)
    client.force_login(organiser)
    body = client.get("/staff/dashboard/").content.decode()
    assert _todo_ids(body) == {north.pk}
    assert f'href="/staff/people/{north_person.pk}/"' in body and "Nora North" in body
    assert "phone &lt;b&gt;them&lt;/b&gt; about hosting" in body  # escaped
    assert "Came twice → ask to host" in body
    assert "Sid South" not in body
    assert 'name="csrfmiddlewaretoken"' in body and 'value="not_reached"' in body


def test_another_areas_organiser_can_neither_see_nor_mark_it(
    admin, organiser, south_organiser, north_person
):
    (todo,) = _todos(admin, north_person)
    south = Client(enforce_csrf_checks=True)
    south.force_login(south_organiser)
    body = south.get("/staff/dashboard/").content.decode()
    assert todo.pk not in _todo_ids(body)
    assert "Nobody to contact" in body
    # Picking the North through the URL falls back to their own scope.
    assert todo.pk not in _todo_ids(
        south.get(f"/staff/dashboard/?area={north_person.area_id}").content.decode()
    )
    token = south.get("/staff/dashboard/").cookies["csrftoken"].value
    response = south.post(
        f"/staff/journeys/todos/{todo.pk}/",
        {"status": "done", "next": "/staff/dashboard/", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 404
    todo.refresh_from_db()
    assert (todo.status, todo.done_by, todo.done_at) == ("open", None, None)


def test_an_analyst_sees_the_to_dos_but_has_no_buttons_and_cannot_mark(
    client, admin, analyst, north_person
):
    (todo,) = _todos(admin, north_person)
    client.force_login(analyst)
    body = client.get("/staff/dashboard/").content.decode()
    assert _todo_ids(body) == {todo.pk}
    assert 'value="done"' not in body
    assert client.post(f"/staff/journeys/todos/{todo.pk}/", {"status": "done"}).status_code == 403
    todo.refresh_from_db()
    assert todo.status == "open"


def test_marking_done_and_not_reached_from_the_dashboard_is_recorded_and_counted(
    client, admin, organiser, areas, north_person
):
    from clarion.core.testing import factories

    neil = factories.person(
        postcode=areas.postcodes["north"], first_name="Neil", last_name="North", email="n@x.net"
    )
    done, missed = _todos(admin, north_person, neil)
    client.force_login(organiser)
    response = client.post(
        f"/staff/journeys/todos/{done.pk}/",
        {"status": "done", "note": "Will host in May", "next": "/staff/dashboard/"},
    )
    assert response.status_code == 302 and response["Location"] == "/staff/dashboard/"
    client.post(
        f"/staff/journeys/todos/{missed.pk}/",
        {"status": "not_reached", "next": "/staff/dashboard/"},
    )
    done.refresh_from_db()
    missed.refresh_from_db()
    assert (done.status, done.outcome_note, done.done_by) == ("done", "Will host in May", organiser)
    assert (missed.status, missed.done_by) == ("not_reached", organiser)
    assert _todo_ids(client.get("/staff/dashboard/").content.decode()) == set()

    (call,) = [row for row in selectors.step_stats(done.journey) if row["step"].key == "call"]
    assert (call["todo_open"], call["todo_done"], call["todo_not_reached"]) == (0, 1, 1)
    client.force_login(admin)
    page = client.get(f"/staff/journeys/{done.journey_id}/").content.decode()
    assert "to do 0 · done 1 · not reached 1" in page


def test_a_bad_outcome_or_a_foreign_next_changes_nothing_and_stays_on_site(
    client, admin, organiser, north_person
):
    (todo,) = _todos(admin, north_person)
    client.force_login(organiser)
    response = client.post(
        f"/staff/journeys/todos/{todo.pk}/", {"status": "bogus", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/staff/journeys/todos/"
    todo.refresh_from_db()
    assert todo.status == "open"
    response = client.post(
        f"/staff/journeys/todos/{todo.pk}/", {"status": "done", "next": "//evil.example/"}
    )
    assert response["Location"] == "/staff/journeys/todos/"


def test_national_staff_see_every_to_do_and_can_pick_an_area(
    client, admin, organiser, south_organiser, areas, north_person, south_person
):
    north, south = _todos(admin, north_person, south_person)
    client.force_login(admin)
    assert _todo_ids(client.get("/staff/dashboard/").content.decode()) == {north.pk, south.pk}
    body = client.get(f"/staff/dashboard/?area={areas.south.pk}").content.decode()
    assert _todo_ids(body) == {south.pk}
    client.post(f"/staff/journeys/todos/{south.pk}/", {"status": "done"})
    south.refresh_from_db()
    assert (south.status, south.done_by) == ("done", admin)
