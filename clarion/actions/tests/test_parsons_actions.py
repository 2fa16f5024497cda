"""Proof with a real client: Parsons' ActionNetwork connector, unchanged, managing
petitions, signatures, forms and submissions on a live Clarion server (pointed at it
as in clarion/api/tests/test_parsons.py)."""

from __future__ import annotations

import json
import warnings

import pytest

with warnings.catch_warnings():
    # Parsons announces at import that it installed only its core dependencies.
    warnings.simplefilter("ignore", RuntimeWarning)
    from parsons import ActionNetwork

from requests import HTTPError

from clarion.actions.models import ActionPage, Submission
from clarion.api.services import api_key_create
from clarion.core.testing import factories
from clarion.people.models import Person

pytestmark = pytest.mark.django_db(transaction=True)


def connector(live_server, token: str) -> ActionNetwork:
    an = ActionNetwork(api_token=token)
    an.api_url = f"{live_server.url}/api/v2"
    an.api.uri = f"{live_server.url}/api/v2/"
    return an


def an_id(doc: dict) -> str:
    return next(i for i in doc["identifiers"] if i.startswith("action_network:")).split(":")[1]


def test_parsons_petitions_and_signatures(live_server, admin, areas):
    _key, token = api_key_create(owner=admin, actor=admin)
    an = connector(live_server, token)

    created = an.create_petition(
        title="Save the ferry",
        description="<p>The ferry is closing.</p>",
        petition_text="Keep the ferry running.",
        target=[{"name": "The Transport Secretary"}],
    )
    petition_id = an_id(created)
    page = ActionPage.objects.get(pk=int(petition_id))
    assert page.kind == ActionPage.Kind.PETITION and page.target_name == "The Transport Secretary"
    assert created["browser_url"] == f"{live_server.url}/act/{page.slug}/"

    an.create_petition(title="Open the pool", description="", petition_text="Open it.", target=[])
    assert sorted(row["title"] for row in an.get_petitions()) == ["Open the pool", "Save the ferry"]
    assert an.get_petitions(page=1, per_page=1)["total_records"] == 2
    assert an.get_petition(petition_id)["petition_text"] == "Keep the ferry running."

    an.update_petition(
        petition_id,
        title="Save our ferry",
        description="<p>Still closing.</p>",
        petition_text="Keep it running.",
        target=[{"name": "The Chancellor"}],
    )
    page.refresh_from_db()
    assert page.title == "Save our ferry" and page.target_name == "The Chancellor"

    # Parsons sends create_signature's payload as query parameters, so nested fields
    # reach the server only as one JSON-encoded string.
    signature = an.create_signature(
        petition_id,
        json.dumps(
            {
                "person": {
                    "given_name": "Ada",
                    "email_addresses": [{"address": "ada@example.net"}],
                    "postal_addresses": [{"postal_code": "LS1 4AP"}],
                },
                "add_tags": ["Ferry"],
                "comments": "Please keep it",
            }
        ),
    )
    ada = Person.objects.get(email="ada@example.net")
    assert ada.area == areas.leeds_central and ada.tags.filter(name="Ferry").exists()
    assert signature["comments"] == "Please keep it"
    grace = factories.person(email="grace@example.net", first_name="Grace")
    an.create_signature(
        petition_id,
        json.dumps(
            {
                "_links": {
                    "osdi:person": {"href": f"https://actionnetwork.org/api/v2/people/{grace.pk}"}
                }
            }
        ),
    )
    # The dict form from Parsons' docstring loses its nested link on the way: a clear 400.
    with pytest.raises(HTTPError, match="400"):
        an.create_signature(
            petition_id,
            {
                "comments": "x",
                "_links": {"osdi:person": {"href": f"{an.api_url}/people/{grace.pk}"}},
            },
        )

    rows = an.get_petition_signatures(petition_id)
    assert sorted(row["action_network:person_id"] for row in rows) == sorted(
        [str(ada.pk), str(grace.pk)]
    )
    assert an.get_petition(petition_id)["total_signatures"] == 2
    mine = an.get_person_signatures(str(ada.pk))
    assert [row["action_network:petition_id"] for row in mine] == [petition_id]
    signature_id = an_id(signature)
    an.update_signature(petition_id, signature_id, {"comments": "Keep it, please"})
    assert Submission.objects.get(pk=int(signature_id)).comment == "Keep it, please"
    assert an.get_person_signature(str(ada.pk), signature_id)["comments"] == "Keep it, please"
    assert (
        an.get_petition_signature(petition_id, signature_id)["identifiers"]
        == (signature["identifiers"])
    )
    assert Submission.objects.filter(page=page).count() == 2


def test_parsons_forms_and_submissions(live_server, admin):
    _key, token = api_key_create(owner=admin, actor=admin)
    an = connector(live_server, token)

    created = an.create_form({"title": "My Free Form", "origin_system": "FreeForms.com"})
    form_id = an_id(created)
    assert ActionPage.objects.get(pk=int(form_id)).kind == ActionPage.Kind.SIGNUP
    assert [row["title"] for row in an.get_forms()] == ["My Free Form"]
    assert an.get_form(form_id)["total_submissions"] == 0

    person = factories.person(email="lin@example.net", first_name="Lin")
    submission = an.create_submission(form_id, str(person.pk))
    assert submission["action_network:person_id"] == str(person.pk)
    rows = an.get_form_submissions(form_id)
    assert [row["identifiers"] for row in rows] == [submission["identifiers"]]
    assert an.get_form(form_id)["total_submissions"] == 1
    assert Submission.objects.get(page_id=int(form_id)).person == person
    an.update_form(form_id, {"title": "My Freer Form"})
    assert an.get_form(form_id)["title"] == "My Freer Form"


def test_parsons_area_key_sees_only_its_signatures(live_server, organiser, admin, areas):
    from clarion.actions.services import SubmissionInput, submission_record

    page = ActionPage.objects.create(
        slug="national", title="National", status=ActionPage.Status.LIVE
    )
    for email, postcode in (("nora@example.net", "LS1 4AP"), ("sid@example.net", "BS5 6XX")):
        submission_record(page=page, data=SubmissionInput(email=email, postcode=postcode))
    _key, token = api_key_create(owner=organiser, actor=organiser)
    an = connector(live_server, token)
    rows = an.get_petition_signatures(str(page.pk))
    nora = Person.objects.get(email="nora@example.net")
    assert [row["action_network:person_id"] for row in rows] == [str(nora.pk)]
    sid = Person.objects.get(email="sid@example.net")
    with pytest.raises(HTTPError, match="404"):
        an.get_person_signatures(str(sid.pk))
