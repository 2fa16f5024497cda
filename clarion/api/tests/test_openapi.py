"""The OpenAPI document describes the API that runs: schemathesis sends generated
requests (valid and invalid) to every operation in the document through the WSGI app,
in process, with an admin key, and checks each answer: no 5xx, a documented status
code and content type, and a body that matches the documented schema."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.checks import ignored_auth

from clarion.actions.models import ActionPage
from clarion.actions.services import SubmissionInput, submission_record
from clarion.api.openapi import RESOURCES, api_routes
from clarion.people.services import tag_add

from .conftest import make_api

EXAMPLES = int(os.environ.get("CLARION_SCHEMATHESIS_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


def test_the_document_is_public_and_lists_every_api_path(client):
    response = client.get("/api/v2/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["OSDI-API-Token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "OSDI-API-Token",
    }
    for path, _name, _view in api_routes():
        assert path in doc["paths"], path
    assert set(doc["paths"]["/api/v2/people"]) == {"get", "post"}
    assert set(doc["paths"]["/api/v2/tags/{tag_id}/taggings/{tagging_id}"]) == {"get", "delete"}
    assert set(doc["paths"]["/api/v2/people/{person_id}/taggings/{tagging_id}"]) == {
        "get",
        "delete",
    }
    outreaches = doc["paths"]["/api/v2/advocacy_campaigns/{advocacy_campaign_id}/outreaches"]
    assert set(outreaches) == {"get", "post"}
    for path in (
        "/api/v2/people/{person_id}/taggings",
        "/api/v2/people/{person_id}/outreaches",
        "/api/v2/people/{person_id}/responses",
        "/api/v2/advocacy_campaigns",
        "/api/v2/surveys/{survey_id}/responses/{response_id}",
    ):
        assert set(doc["paths"][path]) == {"get"}, path
    surveys = doc["paths"]["/api/v2/surveys"]["get"]["responses"]["200"]
    embedded = surveys["content"]["application/hal+json"]["schema"]["properties"]["_embedded"]
    assert embedded["properties"]["action_network:surveys"]["items"] == {
        "$ref": "#/components/schemas/survey"
    }
    people = doc["paths"]["/api/v2/people"]["get"]["responses"]["200"]
    schema = people["content"]["application/hal+json"]["schema"]
    item = schema["properties"]["_embedded"]["properties"]["osdi:people"]["items"]
    assert item == {"$ref": "#/components/schemas/person"}
    for name in (
        "person",
        "tag",
        "tagging",
        "petition",
        "signature",
        "form",
        "submission",
        "event",
        "attendance",
        "fundraising_page",
        "donation",
        "message",
        "list",
        "item",
        "metadata",
        "advocacy_campaign",
        "outreach",
        "survey",
        "response",
        "error",
    ):
        assert name in doc["components"]["schemas"], name
    assert "email_addresses" in RESOURCES["person"]["properties"]


@pytest.fixture
def schema(db):
    """The document loaded from the WSGI app itself. As Django's test client does, the
    per-request connection closing is switched off, so every request runs inside the
    test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from clarion.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v2/openapi.json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _known_ids(north_person, admin) -> dict[str, str]:
    tag_add(person=north_person, tag="volunteer")
    tagging = north_person.taggings.select_related("tag").get()
    letter = ActionPage.objects.create(
        kind=ActionPage.Kind.LETTER,
        slug="letter",
        title="Write",
        status=ActionPage.Status.LIVE,
        target_name="The Mayor",
        letter_body="Please.",
    )
    survey = ActionPage.objects.create(
        kind=ActionPage.Kind.SURVEY,
        slug="survey",
        title="Ask",
        status=ActionPage.Status.LIVE,
        questions=[{"key": "q", "label": "Q"}],
    )
    outreach = submission_record(page=letter, data=SubmissionInput(email=north_person.email))
    response = submission_record(
        page=survey, data=SubmissionInput(email=north_person.email, answers={"q": "a"})
    )
    return {
        "person_id": str(north_person.pk),
        "tag_id": str(tagging.tag_id),
        "tagging_id": str(tagging.pk),
        "advocacy_campaign_id": str(letter.pk),
        "outreach_id": str(outreach.submission.pk),
        "survey_id": str(survey.pk),
        "response_id": str(response.submission.pk),
    }


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
    schema, admin, north_person, client, settings
):
    settings.CLARION_API_RATE_PER_MINUTE = 1_000_000
    token = make_api(client, admin).token
    known = _known_ids(north_person, admin)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        names = {p.name for p in operation.path_parameters}
        fixed = {k: v for k, v in known.items() if k in names}
        variants = [(GenerationMode.POSITIVE, None)]
        if any(True for _ in operation.body) or any(True for _ in operation.query):
            # Invalid input is only worth sending where there is more than a path id.
            variants.append((GenerationMode.NEGATIVE, None))
        if fixed and len(fixed) == len(names):
            variants.append((GenerationMode.POSITIVE, fixed))
        for mode, path_parameters in variants:
            strategy = operation.as_strategy(
                generation_mode=mode,
                path_parameters=path_parameters,
                headers={"OSDI-API-Token": token},
            )

            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case):
                case.call_and_validate(checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing can be made invalid here (e.g. only string parameters)
            except Exception as exc:  # collect every operation's failure, then report all
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    assert operations >= 6
    assert not failures, "\n\n".join(failures)
