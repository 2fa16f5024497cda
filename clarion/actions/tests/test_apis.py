"""The Action Network petitions / signatures and forms / submissions API, over HTTP."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.conf import settings

from clarion.actions.apis import form_document, petition_document, signature_document
from clarion.actions.models import ActionPage, Submission
from clarion.actions.services import SubmissionInput, submission_record
from clarion.api.models import ApiKey
from clarion.api.tests.conftest import make_api
from clarion.core.models import AuditEntry
from clarion.people.models import Person

from .conftest import make_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(client, admin):
    return make_api(client, admin)


@pytest.fixture
def national(db):
    return make_page(slug="national-petition", title="National petition", target_name="The PM")


def sign(page, email, **fields):
    return submission_record(page=page, data=SubmissionInput(email=email, **fields)).submission


def ident(doc) -> int:
    return int(next(i for i in doc["identifiers"] if i.startswith("action_network:")).split(":")[1])


# --- Petitions -----------------------------------------------------------------------------


def test_create_petition_then_read_it_back(admin_api):
    response = admin_api.post(
        "petitions",
        {
            "title": "Save the ferry",
            "description": "<p>The ferry is <strong>closing</strong>.</p>",
            "petition_text": "Keep the ferry running.",
            "target": [{"name": "The Transport Secretary"}],
            "origin_system": "Parsons",
        },
    )
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/hal+json"
    body = response.json()
    page = ActionPage.objects.get(pk=ident(body))
    assert page.kind == ActionPage.Kind.PETITION and page.status == ActionPage.Status.LIVE
    assert page.slug == "save-the-ferry" and page.area is None
    assert body["identifiers"] == [f"clarion:{page.pk}", f"action_network:{page.pk}"]
    assert body["browser_url"] == "http://testserver/act/save-the-ferry/"
    assert body["total_signatures"] == 0
    assert body["_links"]["osdi:signatures"]["href"] == (
        f"http://testserver/api/v2/petitions/{page.pk}/signatures"
    )

    fetched = admin_api.get(f"petitions/{page.pk}").json()
    assert fetched["title"] == "Save the ferry"
    assert fetched["petition_text"] == "Keep the ferry running."
    assert fetched["target"] == [{"name": "The Transport Secretary"}]
    assert "<strong>closing</strong>" in fetched["description"]
    assert fetched["created_date"].endswith("Z")


def test_public_page_of_an_api_petition_is_live(admin_api, client):
    body = admin_api.post("petitions", {"title": "Open the pool"}).json()
    public = client.get(body["browser_url"].removeprefix("http://testserver"))
    assert public.status_code == 200
    assert "Open the pool" in public.content.decode()


def test_update_petition_changes_only_the_fields_given(admin_api, national):
    response = admin_api.put(
        f"petitions/{national.pk}/",
        {"title": "National petition (updated)", "target": "The Chancellor"},
    )
    assert response.status_code == 200, response.content
    national.refresh_from_db()
    assert national.title == "National petition (updated)"
    assert national.target_name == "The Chancellor"
    assert "library" in national.body  # untouched
    assert response.json()["target"] == [{"name": "The Chancellor"}]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ({"description": "no title"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "Fine", "colour": "red"}, "Unknown fields: colour"),
        ({"title": 42}, "title must be text"),
        ({"title": "Fine", "petition_text": "x" * 301}, "at most 300"),
        ({"title": "Fine", "target": [{"name": "A"}, {"name": "B"}]}, "target"),
        ({"title": "Fine", "target": [{"title": "A"}]}, "target"),
        ({"title": "Fine", "target": 7}, "target"),
        ({"title": "Fine", "target": [["A"]]}, "target"),
        ({"title": "Fine", "description": {"html": "x"}}, "description must be text"),
        ("title=", "title"),
        ({"title": "Fine", "action_network:hidden": "yes"}, "true or false"),
        ({"title": "Fine\u0000"}, "NUL"),
    ],
)
def test_bad_petition_input_is_a_json_400_and_creates_nothing(admin_api, payload, message):
    response = admin_api.post("petitions", payload)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not ActionPage.objects.exists()


def test_unknown_petition_is_a_json_404(admin_api, national):
    form = make_page(slug="a-form", kind=ActionPage.Kind.SIGNUP)
    for ident_ in ("999999", "abc", str(form.pk)):
        response = admin_api.get(f"petitions/{ident_}")
        assert response.status_code == 404
        assert "Couldn't find petition" in response.json()["error"]


def test_petitions_are_paged_counted_and_filtered(admin_api, national):
    make_page(slug="second", title="Second petition")
    make_page(slug="third", title="Third petition")
    make_page(slug="a-form", title="A form", kind=ActionPage.Kind.SIGNUP)
    sign(national, "a@example.net")
    sign(national, "b@example.net")

    first = admin_api.get("petitions", per_page=2).json()
    assert first["total_records"] == 3 and first["total_pages"] == 2 and first["page"] == 1
    assert "page=2" in first["_links"]["next"]["href"]
    second = admin_api.get("petitions", page=2, per_page=2).json()
    titles = [p["title"] for p in first["_embedded"]["osdi:petitions"]] + [
        p["title"] for p in second["_embedded"]["osdi:petitions"]
    ]
    assert sorted(titles) == ["National petition", "Second petition", "Third petition"]
    counts = {
        p["title"]: p["total_signatures"]
        for p in first["_embedded"]["osdi:petitions"] + second["_embedded"]["osdi:petitions"]
    }
    assert counts["National petition"] == 2 and counts["Second petition"] == 0

    filtered = admin_api.get("petitions", filter="title eq 'third petition'").json()
    assert [p["title"] for p in filtered["_embedded"]["osdi:petitions"]] == ["Third petition"]
    bad = admin_api.get("petitions", filter="colour eq 'red'")
    assert bad.status_code == 400 and "cannot filter on colour" in bad.json()["error"]
    assert admin_api.get("petitions", page="two").status_code == 400


# --- Signatures ----------------------------------------------------------------------------


def test_record_signature_helper_creates_the_person_tags_and_counts(admin_api, national, areas):
    payload = {
        "person": {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email_addresses": [{"address": "ada@example.net"}],
            "postal_addresses": [{"postal_code": "LS1 4AP"}],
        },
        "add_tags": ["Ferry campaign"],
        "comments": "Please act",
    }
    response = admin_api.post(f"petitions/{national.pk}/signatures", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    person = Person.objects.get(email="ada@example.net")
    assert person.first_name == "Ada" and person.area == areas.leeds_central
    assert list(person.tags.values_list("name", flat=True)) == ["Ferry campaign"]
    submission = Submission.objects.get(pk=ident(body))
    assert submission.page == national and submission.person == person
    assert body["comments"] == "Please act"
    assert body["action_network:person_id"] == str(person.pk)
    assert body["_links"]["osdi:person"]["href"].endswith(f"/api/v2/people/{person.pk}")
    assert body["_links"]["osdi:petition"]["href"].endswith(f"/api/v2/petitions/{national.pk}")

    again = admin_api.post(f"petitions/{national.pk}/signatures", payload)
    assert again.status_code == 200
    assert again.json()["identifiers"] == body["identifiers"]
    assert admin_api.get(f"petitions/{national.pk}").json()["total_signatures"] == 1

    fetched = admin_api.get(f"petitions/{national.pk}/signatures/{submission.pk}")
    assert fetched.status_code == 200 and fetched.json()["comments"] == "Please act"


def test_signature_for_a_linked_person_from_any_host(admin_api, national, north_person):
    href = f"https://actionnetwork.org/api/v2/people/{north_person.pk}"
    response = admin_api.post(
        f"petitions/{national.pk}/signatures",
        {"_links": {"osdi:person": {"href": href}}, "add_tags": ["Signed"]},
    )
    assert response.status_code == 201, response.content
    assert Submission.objects.get(page=national).person == north_person
    assert north_person.tags.filter(name="Signed").exists()


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({}, 400, "empty"),
        ({"comments": "who?"}, 400, "Name the person"),
        ({"person": "ada"}, 400, "person must be an object"),
        ({"person": {"given_name": "No contact"}}, 400, "email address"),
        ({"person": {"email_addresses": [{"address": "not-an-email"}]}}, 400, "email"),
        ({"_links": {"osdi:person": "x"}}, 400, "osdi:person"),
        ({"_links": {"osdi:person": {"href": "https://x/people/999999"}}}, 404, "Couldn't find"),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "add_tags": "x"},
            400,
            "add_tags",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "rating": 5},
            400,
            "Unknown fields: rating",
        ),
        (
            {"person": {"email_addresses": [{"address": "a@example.net"}]}, "comments": ["x"]},
            400,
            "comments must be text",
        ),
    ],
)
def test_bad_signature_input_is_a_json_4xx_and_records_nothing(
    admin_api, national, payload, status, message
):
    response = admin_api.post(f"petitions/{national.pk}/signatures", payload or "")
    assert response.status_code == status, response.content
    assert message in response.json()["error"]
    assert not Submission.objects.exists()
    assert not Person.objects.filter(email="a@example.net").exists()


def test_a_person_with_only_a_phone_cannot_sign(admin_api, national):
    response = admin_api.post(
        f"petitions/{national.pk}/signatures",
        {"person": {"phone_numbers": [{"number": "+447911123456"}]}},
    )
    assert response.status_code == 400
    assert "email address" in response.json()["error"]
    assert not Submission.objects.exists() and not Person.objects.exists()


def test_signatures_are_paged(admin_api, national):
    for n in range(3):
        sign(national, f"p{n}@example.net")
    first = admin_api.get(f"petitions/{national.pk}/signatures", per_page=2).json()
    assert first["total_records"] == 3 and first["total_pages"] == 2
    assert len(first["_embedded"]["osdi:signatures"]) == 2
    second = admin_api.get(f"petitions/{national.pk}/signatures", page=2, per_page=2).json()
    assert len(second["_embedded"]["osdi:signatures"]) == 1
    seen = {ident(s) for s in first["_embedded"]["osdi:signatures"]} | {
        ident(s) for s in second["_embedded"]["osdi:signatures"]
    }
    assert seen == set(Submission.objects.values_list("pk", flat=True))
    assert admin_api.get(f"petitions/{national.pk}/signatures", page=3).json()["_embedded"] == {
        "osdi:signatures": []
    }


def test_signatures_filter_by_date(admin_api, national):
    sign(national, "p@example.net")
    assert (
        admin_api.get(
            f"petitions/{national.pk}/signatures", filter="created_date gt '2000-01-01'"
        ).json()["total_records"]
        == 1
    )
    assert (
        admin_api.get(
            f"petitions/{national.pk}/signatures", filter="modified_date lt '2000-01-01'"
        ).json()["total_records"]
        == 0
    )
    bad = admin_api.get(f"petitions/{national.pk}/signatures", filter="created_date gt 'soon'")
    assert bad.status_code == 400 and "not a date" in bad.json()["error"]


def test_put_signature_changes_its_comment(admin_api, national):
    submission = sign(national, "p@example.net", comment="old")
    response = admin_api.put(
        f"petitions/{national.pk}/signatures/{submission.pk}", {"comments": "new words"}
    )
    assert response.status_code == 200 and response.json()["comments"] == "new words"
    submission.refresh_from_db()
    assert submission.comment == "new words"
    bad = admin_api.put(f"petitions/{national.pk}/signatures/{submission.pk}", {"person": {}})
    assert bad.status_code == 400


def test_person_signatures_lists_only_petitions(admin_api, national, north_person):
    form = make_page(slug="a-form", kind=ActionPage.Kind.SIGNUP)
    signature = sign(national, north_person.email)
    sign(form, north_person.email)
    body = admin_api.get(f"people/{north_person.pk}/signatures").json()
    assert [ident(s) for s in body["_embedded"]["osdi:signatures"]] == [signature.pk]
    submissions = admin_api.get(f"people/{north_person.pk}/submissions").json()
    assert [s["action_network:form_id"] for s in submissions["_embedded"]["osdi:submissions"]] == [
        str(form.pk)
    ]
    single = admin_api.get(f"people/{north_person.pk}/signatures/{signature.pk}")
    assert single.status_code == 200 and ident(single.json()) == signature.pk
    form_sub = Submission.objects.get(page=form)
    assert admin_api.get(f"people/{north_person.pk}/signatures/{form_sub.pk}").status_code == 404
    assert admin_api.get(f"people/{north_person.pk}/submissions/{form_sub.pk}").status_code == 200


# --- Scope (invariant 4) -----------------------------------------------------------------


@pytest.mark.parametrize("keyholder", ["north_organiser", "admin_key_for_the_north"])
def test_area_scoped_key_cannot_see_south_signatures(
    client, keyholder, admin, organiser, areas, national, north_person, south_person
):
    if keyholder == "north_organiser":
        api = make_api(client, organiser)
    else:
        api = make_api(client, admin, area=areas.north)
    north_sig = sign(national, north_person.email)
    south_sig = sign(national, south_person.email, comment="Sid was here")

    listing = api.get(f"petitions/{national.pk}/signatures")
    assert listing.status_code == 200
    body = listing.json()
    assert body["total_records"] == 1
    assert [ident(s) for s in body["_embedded"]["osdi:signatures"]] == [north_sig.pk]
    assert "Sid was here" not in listing.content.decode()

    single = api.get(f"petitions/{national.pk}/signatures/{south_sig.pk}")
    assert single.status_code == 404
    assert api.get(f"people/{south_person.pk}/signatures").status_code == 404
    assert api.get(f"people/{south_person.pk}/signatures/{south_sig.pk}").status_code == 404
    assert (
        api.put(
            f"petitions/{national.pk}/signatures/{south_sig.pk}", {"comments": "changed"}
        ).status_code
        == 404
    )
    south_sig.refresh_from_db()
    assert south_sig.comment == "Sid was here"

    # Signing the South person up through the helper is refused, and writes nothing.
    refused = api.post(
        f"petitions/{national.pk}/signatures",
        {"person": {"email_addresses": [{"address": south_person.email}], "given_name": "X"}},
    )
    assert refused.status_code == 403
    south_person.refresh_from_db()
    assert south_person.first_name == "Sid"
    linked = api.post(
        f"petitions/{national.pk}/signatures",
        {"_links": {"osdi:person": {"href": f"/api/v2/people/{south_person.pk}"}}},
    )
    assert linked.status_code == 404
    assert Submission.objects.filter(person=south_person).count() == 1


def test_area_scoped_key_reaches_only_its_pages(client, organiser, areas, national):
    south_page = make_page(slug="south-page", title="South page", area=areas.bristol)
    north_page = make_page(slug="north-page", title="North page", area=areas.leeds_central)
    api = make_api(client, organiser)
    titles = {p["title"] for p in api.get("petitions").json()["_embedded"]["osdi:petitions"]}
    assert titles == {"National petition", "North page"}
    assert api.get(f"petitions/{south_page.pk}").status_code == 404
    assert api.put(f"petitions/{south_page.pk}", {"title": "Hijacked"}).status_code == 404
    national_put = api.put(f"petitions/{national.pk}", {"title": "Hijacked"})
    assert national_put.status_code == 403
    assert api.put(f"petitions/{north_page.pk}", {"title": "North page 2"}).status_code == 200
    created = api.post("petitions", {"title": "Leeds libraries"}).json()
    assert ActionPage.objects.get(pk=ident(created)).area == areas.north
    for page in (south_page, national):
        page.refresh_from_db()
        assert page.title != "Hijacked"


def test_read_only_key_cannot_sign_or_create(client, admin, national):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    response = api.post(
        f"petitions/{national.pk}/signatures",
        {"person": {"email_addresses": [{"address": "a@example.net"}]}},
    )
    assert response.status_code == 403 and "read only" in response.json()["error"]
    assert api.post("petitions", {"title": "No"}).status_code == 403
    assert not Submission.objects.exists() and ActionPage.objects.count() == 1


def test_key_without_people_cannot_reach_signatures(client, admin, national, north_person):
    api = make_api(client, admin, resources=["actions"])
    sign(national, north_person.email)
    assert api.get(f"petitions/{national.pk}").status_code == 200
    assert api.get(f"petitions/{national.pk}/signatures").status_code == 403
    assert api.get(f"people/{north_person.pk}/signatures").status_code == 403
    response = api.post(
        f"petitions/{national.pk}/signatures",
        {"person": {"email_addresses": [{"address": "a@example.net"}]}},
    )
    assert response.status_code == 403


def test_key_without_actions_cannot_reach_petitions_or_forms(client, admin, national):
    api = make_api(client, admin, resources=["people", "tags"])
    assert api.get(f"petitions/{national.pk}").status_code == 403
    assert api.get("petitions").status_code == 403
    assert api.get("forms").status_code == 403
    entry = api.get("").json()["_links"]
    assert "osdi:people" in entry and "osdi:petitions" not in entry and "osdi:forms" not in entry


def test_without_a_token_the_answer_is_401_json(client, national):
    response = client.get(f"/api/v2/petitions/{national.pk}/signatures")
    assert response.status_code == 401 and "OSDI-API-Token" in response.json()["error"]


# --- Forms and submissions -----------------------------------------------------------------


def test_forms_and_submissions_round_trip(admin_api, north_person):
    created = admin_api.post(
        "forms", {"title": "Volunteer with us", "call_to_action": "Sign me up"}
    )
    assert created.status_code == 201, created.content
    form = ActionPage.objects.get(pk=ident(created.json()))
    assert form.kind == ActionPage.Kind.SIGNUP and form.button_label == "Sign me up"
    make_page(slug="a-pledge", title="A pledge", kind=ActionPage.Kind.PLEDGE)
    make_page(slug="a-petition", title="A petition")
    listed = admin_api.get("forms").json()
    assert {f["title"] for f in listed["_embedded"]["osdi:forms"]} == {
        "Volunteer with us",
        "A pledge",
    }

    response = admin_api.post(
        f"forms/{form.pk}/submissions",
        {
            "_links": {
                "osdi:person": {
                    "href": f"https://actionnetwork.org/api/v2/people/{north_person.pk}"
                }
            }
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["action_network:form_id"] == str(form.pk)
    assert body["_links"]["osdi:form"]["href"].endswith(f"/api/v2/forms/{form.pk}")
    assert admin_api.get(f"forms/{form.pk}").json()["total_submissions"] == 1
    subs = admin_api.get(f"forms/{form.pk}/submissions").json()
    assert [ident(s) for s in subs["_embedded"]["osdi:submissions"]] == [ident(body)]
    single = admin_api.get(f"forms/{form.pk}/submissions/{ident(body)}")
    assert single.status_code == 200

    updated = admin_api.put(f"forms/{form.pk}", {"title": "Volunteer"})
    assert updated.status_code == 200 and updated.json()["title"] == "Volunteer"
    assert admin_api.get(f"forms/{form.pk}/submissions/99999").status_code == 404
    # A petition is not a form.
    petition = ActionPage.objects.get(slug="a-petition")
    assert admin_api.get(f"forms/{petition.pk}").status_code == 404


def test_form_created_from_query_parameters(admin_api):
    # Parsons' create_form sends its payload as query parameters with no body.
    response = admin_api.client.post(
        "/api/v2/forms?title=Free+form&origin_system=FreeForms.com",
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert response.status_code == 201, response.content
    assert ActionPage.objects.get(kind=ActionPage.Kind.SIGNUP).title == "Free form"


def test_form_encoded_body_is_read_as_parsons_sends_it(admin_api, national):
    # Parsons' update_signature and update_form pass a dict as requests' ``data``.
    submission = sign(national, "p@example.net")
    response = admin_api.client.put(
        f"/api/v2/petitions/{national.pk}/signatures/{submission.pk}",
        data="comments=changed+by+form",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert response.status_code == 200, response.content
    submission.refresh_from_db()
    assert submission.comment == "changed by form"


def test_signature_sent_as_a_json_query_string(admin_api, national):
    payload = {
        "person": {
            "email_addresses": [{"address": "q+tag@example.net"}],
            "phone_numbers": [{"number": "+447911123456"}],
        },
        "comments": "a & b",
    }
    response = admin_api.client.post(
        f"/api/v2/petitions/{national.pk}/signatures?" + quote(json.dumps(payload)),
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert response.status_code == 201, response.content
    person = Person.objects.get(email="q+tag@example.net")
    assert person.phone == "+447911123456"
    assert Submission.objects.get(page=national).comment == "a & b"
    broken = admin_api.client.post(
        f"/api/v2/petitions/{national.pk}/signatures?" + quote("{nope"),
        data="",
        content_type="application/json",
        HTTP_OSDI_API_TOKEN=admin_api.token,
    )
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]


# --- Documents for webhooks ----------------------------------------------------------------


def test_documents_without_a_request_link_to_the_site(national, north_person):
    submission = sign(national, north_person.email, comment="Yes")
    doc = signature_document(None, submission)
    assert doc["_links"]["self"]["href"] == (
        f"{settings.SITE_URL}/api/v2/petitions/{national.pk}/signatures/{submission.pk}"
    )
    assert (
        doc["_links"]["osdi:person"]["href"]
        == f"{settings.SITE_URL}/api/v2/people/{north_person.pk}"
    )
    assert doc["identifiers"] == [f"clarion:{submission.pk}", f"action_network:{submission.pk}"]
    assert doc["comments"] == "Yes" and doc["status"] == "confirmed"
    page_doc = petition_document(None, national)
    assert page_doc["total_signatures"] == 1
    assert page_doc["browser_url"] == f"{settings.SITE_URL}/act/national-petition/"
    assert (
        page_doc["_links"]["self"]["href"] == f"{settings.SITE_URL}/api/v2/petitions/{national.pk}"
    )
    assert form_document(None, national)["_links"]["self"]["href"].endswith(f"/forms/{national.pk}")


# --- Background processing -----------------------------------------------------------------


def run_queue():
    from django.core.management import call_command

    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload")


@pytest.mark.django_db(transaction=True)
def test_background_signature_is_recorded_by_the_worker(
    admin_api, national, django_capture_on_commit_callbacks
):
    payload = {
        "person": {"email_addresses": [{"address": "later@example.net"}]},
        "add_tags": ["Queued"],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            f"petitions/{national.pk}/signatures?background_processing=true", payload
        )
    assert response.status_code == 200 and response.json() == {}
    assert not Submission.objects.exists()
    run_queue()
    submission = Submission.objects.get(page=national)
    assert submission.person.email == "later@example.net"
    assert submission.person.tags.filter(name="Queued").exists()


@pytest.mark.django_db(transaction=True)
def test_background_petition_create_and_a_rejected_write(
    admin_api, client, organiser, national, south_person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("petitions?background_processing=True", {"title": "Later"})
    assert response.status_code == 200 and response.json() == {}
    north_api = make_api(client, organiser)
    with django_capture_on_commit_callbacks(execute=True):
        refused_later = north_api.post(
            f"petitions/{national.pk}/signatures?background_processing=true",
            {"person": {"email_addresses": [{"address": south_person.email}]}},
        )
    assert refused_later.status_code == 200
    run_queue()
    assert ActionPage.objects.filter(title="Later", kind=ActionPage.Kind.PETITION).exists()
    assert not Submission.objects.filter(person=south_person).exists()
    outcomes = sorted(
        AuditEntry.objects.filter(object_type="api_background").values_list(
            "detail__outcome", flat=True
        )
    )
    assert outcomes == ["done", "rejected"]
    # Malformed JSON is still refused at once.
    assert admin_api.post("petitions?background_processing=true", "{oops").status_code == 400
