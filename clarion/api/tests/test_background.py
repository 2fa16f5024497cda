"""``?background_processing=true``: the write is queued, the client gets 200 and an
empty JSON object at once, and the write lands when a worker runs the task."""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from clarion.api import background
from clarion.api.models import ApiKey
from clarion.api.services import api_key_create, api_key_revoke
from clarion.core.models import AuditEntry
from clarion.mailings.tests.helpers import run_tasks
from clarion.people.models import Person, Tag, Tagging

from .conftest import make_api

pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP = {
    "person": {
        "given_name": "Grace",
        "email_addresses": [{"address": "grace@example.net"}],
        "postal_addresses": [{"postal_code": "LS1 4AP"}],
    },
    "add_tags": ["Volunteer"],
}


def post_later(api, path, data, capture):
    with capture(execute=True):
        return api.post(f"{path}?background_processing=true", data)


def outcomes() -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type=background.MARKER_TYPE)
        .order_by("pk")
        .values_list("detail__outcome", flat=True)
    )


def test_signup_is_answered_at_once_and_lands_when_the_task_runs(
    admin_api, areas, django_capture_on_commit_callbacks
):
    response = post_later(admin_api, "people", SIGNUP, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response.json() == {}
    assert not Person.objects.filter(email="grace@example.net").exists()
    run_tasks(django_capture_on_commit_callbacks)
    person = Person.objects.get(email="grace@example.net")
    assert person.first_name == "Grace" and person.area == areas.leeds_central
    assert list(person.tags.values_list("name", flat=True)) == ["Volunteer"]
    assert outcomes() == ["done"]
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_parsons_style_true_value_is_accepted(admin_api, areas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("people?background_processing=True", SIGNUP)
    assert response.json() == {}
    run_tasks(django_capture_on_commit_callbacks)
    assert Person.objects.filter(email="grace@example.net").exists()


def test_without_the_parameter_the_write_happens_in_the_request(admin_api, areas):
    response = admin_api.post("people?background_processing=false", SIGNUP)
    assert response.status_code == 201
    assert Person.objects.filter(email="grace@example.net").exists()
    assert not DBTaskResult.objects.exists()


def test_tagging_is_queued_and_lands(admin_api, north_person, django_capture_on_commit_callbacks):
    tag = Tag.objects.create(name="Speaker")
    body = {
        "_links": {"osdi:person": {"href": f"http://testserver/api/v2/people/{north_person.pk}"}}
    }
    response = post_later(
        admin_api, f"tags/{tag.pk}/taggings", body, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200 and response.json() == {}
    assert not Tagging.objects.exists()
    run_tasks(django_capture_on_commit_callbacks)
    assert Tagging.objects.filter(person=north_person, tag=tag).exists()


def test_person_update_is_queued_and_lands(
    admin_api, north_person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.put(
            f"people/{north_person.pk}?background_processing=true", {"family_name": "Northcote"}
        )
    assert response.status_code == 200 and response.json() == {}
    north_person.refresh_from_db()
    assert north_person.last_name == "North"
    run_tasks(django_capture_on_commit_callbacks)
    north_person.refresh_from_db()
    assert north_person.last_name == "Northcote"


def test_bad_payload_queued_is_rejected_and_recorded_not_a_500(
    admin_api, areas, django_capture_on_commit_callbacks
):
    bad = {"person": {"given_name": "No address"}}
    response = post_later(admin_api, "people", bad, django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json() == {}
    run_tasks(django_capture_on_commit_callbacks)
    assert not Person.objects.exists()
    entry = AuditEntry.objects.get(object_type=background.MARKER_TYPE)
    assert entry.detail["outcome"] == "rejected"
    assert "needs an email address" in entry.detail["error"]
    assert "rejected" in entry.summary
    result = DBTaskResult.objects.get()
    assert result.status == "SUCCESSFUL" and result.return_value.startswith("rejected:")


def test_body_that_is_not_json_is_refused_at_once(admin_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("people?background_processing=true", "{oops")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    assert not DBTaskResult.objects.exists()


def test_read_only_key_is_refused_before_queueing(
    client, admin, django_capture_on_commit_callbacks
):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    response = post_later(api, "people", SIGNUP, django_capture_on_commit_callbacks)
    assert response.status_code == 403
    assert not DBTaskResult.objects.exists()


def test_key_revoked_before_the_task_runs_writes_nothing(
    client, admin, areas, django_capture_on_commit_callbacks
):
    api = make_api(client, admin)
    post_later(api, "people", SIGNUP, django_capture_on_commit_callbacks)
    api_key_revoke(key=ApiKey.objects.get(), actor=admin)
    run_tasks(django_capture_on_commit_callbacks)
    assert not Person.objects.exists()
    entry = AuditEntry.objects.get(object_type=background.MARKER_TYPE)
    assert entry.detail["outcome"] == "rejected" and "revoked" in entry.detail["error"]


def test_area_key_queued_signup_outside_its_area_is_rejected(
    client, organiser, areas, south_person, django_capture_on_commit_callbacks
):
    api = make_api(client, organiser)
    south_signup = {
        "person": {
            "email_addresses": [{"address": "newsouth@example.net"}],
            "postal_addresses": [{"postal_code": areas.postcodes["south"]}],
        }
    }
    post_later(api, "people", south_signup, django_capture_on_commit_callbacks)
    # The South person's own record, named by email, may not be changed either.
    existing = {
        "person": {"given_name": "Changed", "email_addresses": [{"address": south_person.email}]}
    }
    post_later(api, "people", existing, django_capture_on_commit_callbacks)
    run_tasks(django_capture_on_commit_callbacks)
    assert not Person.objects.filter(email="newsouth@example.net").exists()
    south_person.refresh_from_db()
    assert south_person.first_name == "Sid"
    assert outcomes() == ["rejected", "rejected"]


def test_a_job_runs_once_even_if_the_task_runs_twice(admin, areas):
    key, _token = api_key_create(owner=admin, actor=admin)
    data = {**SIGNUP, "add_tags": ["Volunteer"]}
    first = background.run(name="people.signup", key_id=key.pk, payload={"data": data}, job="job-1")
    second = background.run(
        name="people.signup", key_id=key.pk, payload={"data": data}, job="job-1"
    )
    assert (first, second) == ("done", "duplicate")
    assert Person.objects.count() == 1 and outcomes() == ["done"]


def test_unknown_writer_or_payload_shape_is_rejected(admin, areas):
    key, _token = api_key_create(owner=admin, actor=admin)
    assert background.run(name="no.such", key_id=key.pk, payload={}, job="a").startswith("rejected")
    assert background.run(
        name="people.signup", key_id=key.pk, payload={"wrong": 1}, job="b"
    ).startswith("rejected")
    assert not Person.objects.exists()


def test_only_registered_writes_can_be_queued(admin_api, admin):
    with pytest.raises(LookupError):
        background.queue(key=ApiKey.objects.get(), name="os.system", data={})
