"""Letter pages as Action Network advocacy campaigns (their letters as outreaches) and
survey pages as Action Network surveys (their answers as responses), over HTTP."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command

from clarion.actions.models import ActionPage, Submission
from clarion.actions.services import SubmissionInput, submission_record
from clarion.api.models import ApiKey
from clarion.api.tests.conftest import make_api
from clarion.people.models import Person
from clarion.people.services import person_upsert

from .conftest import make_page

pytestmark = pytest.mark.django_db

TEMPLATE = "Please keep the Central Library open on Sundays."


@pytest.fixture
def admin_api(client, admin):
    return make_api(client, admin)


@pytest.fixture
def letter(db):
    return make_page(
        kind=ActionPage.Kind.LETTER,
        slug="write-to-the-leader",
        title="Write to the council leader",
        summary="Ask the leader to keep the library open.",
        target_name="Cllr Jo Bloggs",
        target_role="Council leader",
        target_email="leader@council.example.org",
        letter_subject="Our library",
        letter_body=TEMPLATE,
    )


@pytest.fixture
def survey(db):
    return make_page(
        kind=ActionPage.Kind.SURVEY,
        slug="your-priorities",
        title="Your priorities",
        questions=[
            {"key": "issue", "label": "Your top issue", "kind": "text"},
            {"key": "bus", "label": "Do you take the bus?", "kind": "yesno"},
        ],
    )


def ident(doc) -> int:
    return int(next(i for i in doc["identifiers"] if i.startswith("action_network:")).split(":")[1])


def path(href: str) -> str:
    return href.split("/api/v2/", 1)[1]


def write(page, email, **fields):
    return submission_record(page=page, data=SubmissionInput(email=email, **fields)).submission


def run_queue():
    call_command("db_worker", "--batch", "--queue-name", "*", "--no-reload")


# --- Advocacy campaigns --------------------------------------------------------------------


def test_letter_pages_are_listed_as_advocacy_campaigns_with_their_target(
    admin_api, letter, survey, petition
):
    write(letter, "a@example.net", letter_body="Mine")
    body = admin_api.get("advocacy_campaigns").json()
    assert body["total_records"] == 1
    (campaign,) = body["_embedded"]["osdi:advocacy_campaigns"]
    assert ident(campaign) == letter.pk
    assert campaign["title"] == "Write to the council leader"
    assert campaign["type"] == "email"
    assert campaign["targets"] == [{"name": "Cllr Jo Bloggs", "title": "Council leader"}]
    assert campaign["total_outreaches"] == 1
    assert campaign["browser_url"] == "http://testserver/act/write-to-the-leader/"
    links = campaign["_links"]
    assert links["osdi:outreaches"]["href"] == (
        f"http://testserver/api/v2/advocacy_campaigns/{letter.pk}/outreaches"
    )
    assert links["osdi:record_outreach_helper"] == links["osdi:outreaches"]
    # The target's own address is never shown.
    assert "leader@council.example.org" not in admin_api.get("advocacy_campaigns").content.decode()
    single = admin_api.get(path(links["self"]["href"])).json()
    assert single["summary"] == "Ask the leader to keep the library open."
    assert single["total_outreaches"] == 1


def test_other_pages_are_not_advocacy_campaigns(admin_api, petition, survey):
    for page in (petition, survey):
        response = admin_api.get(f"advocacy_campaigns/{page.pk}")
        assert response.status_code == 404
        assert "advocacy campaign" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_record_outreach_helper_records_the_letter_and_sends_it_to_the_target(admin_api, letter):
    payload = {
        "person": {
            "given_name": "Lena",
            "family_name": "Letters",
            "email_addresses": [{"address": "lena@example.net"}],
            "postal_addresses": [{"postal_code": "LS1 4AP"}],
        },
        "targets": [{"given_name": "Jo", "family_name": "Bloggs"}],
        "subject": "Sundays matter",
        "message": "I read there every Sunday.",
        "add_tags": ["Letter writer"],
    }
    response = admin_api.post(f"advocacy_campaigns/{letter.pk}/outreaches", payload)
    assert response.status_code == 201, response.content
    outreach = response.json()
    assert outreach["subject"] == "Sundays matter"
    assert outreach["message"] == "I read there every Sunday."
    assert outreach["targets"] == [{"name": "Cllr Jo Bloggs", "title": "Council leader"}]
    person = Person.objects.get(email="lena@example.net")
    assert (
        outreach["_links"]["osdi:person"]["href"] == f"http://testserver/api/v2/people/{person.pk}"
    )
    assert outreach["_links"]["osdi:advocacy_campaign"]["href"].endswith(
        f"/advocacy_campaigns/{letter.pk}"
    )
    assert list(person.tags.values_list("name", flat=True)) == ["Letter writer"]
    # The outreach reads back, from the campaign and from the person.
    assert admin_api.get(path(outreach["_links"]["self"]["href"])).json() == outreach
    mine = admin_api.get(f"people/{person.pk}/outreaches").json()
    assert [ident(o) for o in mine["_embedded"]["osdi:outreaches"]] == [ident(outreach)]
    assert admin_api.get(f"people/{person.pk}/outreaches/{ident(outreach)}").status_code == 200

    run_queue()
    letters = [m for m in mail.outbox if m.to == ["leader@council.example.org"]]
    assert len(letters) == 1
    assert "I read there every Sunday." in letters[0].body
    assert letters[0].reply_to == ["lena@example.net"]

    again = admin_api.post(f"advocacy_campaigns/{letter.pk}/outreaches", payload)
    assert again.status_code == 200 and ident(again.json()) == ident(outreach)
    assert Submission.objects.filter(page=letter).count() == 1


def test_an_outreach_without_a_message_sends_the_pages_letter(admin_api, letter, north_person):
    response = admin_api.post(
        f"advocacy_campaigns/{letter.pk}/outreaches",
        {
            "_links": {
                "osdi:person": {
                    "href": f"https://actionnetwork.org/api/v2/people/{north_person.pk}"
                }
            }
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["message"] == TEMPLATE
    assert response.json()["subject"] == "Our library"
    submission = Submission.objects.get(page=letter)
    assert submission.person == north_person


def test_a_letter_with_no_text_at_all_is_refused(admin_api):
    blank = make_page(kind=ActionPage.Kind.LETTER, slug="blank", target_name="X", letter_body="")
    response = admin_api.post(
        f"advocacy_campaigns/{blank.pk}/outreaches",
        {"person": {"email_addresses": [{"address": "n@example.net"}]}},
    )
    assert response.status_code == 400
    assert "message" in response.json()["errors"]
    assert not Submission.objects.exists() and not Person.objects.filter(email="n@example.net")


@pytest.mark.parametrize(
    "payload",
    [
        {"person": {"email_addresses": [{"address": "x@example.net"}]}, "colour": "red"},
        {"person": {"email_addresses": [{"address": "x@example.net"}]}, "targets": "the mayor"},
        {"person": {"email_addresses": [{"address": "x@example.net"}]}, "message": 12},
        {"person": {"email_addresses": [{"address": "x@example.net"}]}, "subject": "s" * 201},
        {"person": {"email_addresses": [{"address": "x@example.net"}]}, "add_tags": "one"},
        {"message": "No person"},
        {"_links": {"osdi:person": "nowhere"}},
        {"_links": {"osdi:person": {"href": "https://x.example/people/999999"}}},
    ],
)
def test_bad_outreach_input_is_a_json_4xx_and_writes_nothing(admin_api, letter, payload):
    response = admin_api.post(f"advocacy_campaigns/{letter.pk}/outreaches", payload)
    assert 400 <= response.status_code < 500, response.content
    assert "error" in response.json()
    assert not Submission.objects.exists()


def test_malformed_bodies_are_json_400s(admin_api, letter):
    for body in ("{oops", "[1, 2]", '"text"'):
        response = admin_api.post(f"advocacy_campaigns/{letter.pk}/outreaches", body)
        assert response.status_code == 400 and "error" in response.json(), body


def test_a_person_without_email_cannot_write(admin_api, letter, areas):
    phone_only = person_upsert(phone="+447911000111", postcode=areas.postcodes["north"]).person
    response = admin_api.post(
        f"advocacy_campaigns/{letter.pk}/outreaches",
        {"_links": {"osdi:person": {"href": f"/api/v2/people/{phone_only.pk}"}}},
    )
    assert response.status_code == 400 and "error" in response.json()
    assert not Submission.objects.exists()


def test_a_read_only_key_cannot_record_an_outreach(client, admin, letter):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    assert api.get(f"advocacy_campaigns/{letter.pk}/outreaches").status_code == 200
    response = api.post(
        f"advocacy_campaigns/{letter.pk}/outreaches",
        {"person": {"email_addresses": [{"address": "r@example.net"}]}},
    )
    assert response.status_code == 403 and "error" in response.json()
    assert not Submission.objects.exists()


def test_campaigns_are_read_only_through_the_api(admin_api, letter):
    for response in (
        admin_api.post("advocacy_campaigns", {"title": "New"}),
        admin_api.put(f"advocacy_campaigns/{letter.pk}", {"title": "New"}),
        admin_api.post("surveys", {"title": "New"}),
    ):
        assert response.status_code == 405 and "error" in response.json()


def test_an_area_key_sees_its_areas_campaigns_and_only_its_peoples_letters(
    client, organiser, areas, letter, north_person, south_person
):
    south_letter = make_page(
        kind=ActionPage.Kind.LETTER,
        slug="south-letter",
        area=areas.south,
        target_name="South MP",
        letter_body="Hello",
    )
    write(letter, north_person.email)
    write(letter, south_person.email)
    south_outreach = write(south_letter, south_person.email)
    national_south = Submission.objects.get(page=letter, person=south_person)
    api = make_api(client, organiser)

    listing = api.get("advocacy_campaigns").json()
    assert [ident(c) for c in listing["_embedded"]["osdi:advocacy_campaigns"]] == [letter.pk]
    outreaches = api.get(f"advocacy_campaigns/{letter.pk}/outreaches").json()
    assert outreaches["total_records"] == 1
    (only,) = outreaches["_embedded"]["osdi:outreaches"]
    assert only["_links"]["osdi:person"]["href"].endswith(f"/people/{north_person.pk}")
    for response in (
        api.get(f"advocacy_campaigns/{south_letter.pk}"),
        api.get(f"advocacy_campaigns/{south_letter.pk}/outreaches"),
        api.get(f"advocacy_campaigns/{south_letter.pk}/outreaches/{south_outreach.pk}"),
        api.get(f"advocacy_campaigns/{letter.pk}/outreaches/{national_south.pk}"),
        api.get(f"people/{south_person.pk}/outreaches"),
        api.get(f"people/{north_person.pk}/outreaches/{national_south.pk}"),
    ):
        assert response.status_code == 404 and "error" in response.json()
    # Writing for a person of another area is refused and changes nothing.
    refused = api.post(
        f"advocacy_campaigns/{letter.pk}/outreaches",
        {"person": {"email_addresses": [{"address": south_person.email}]}, "message": "Hi"},
    )
    assert refused.status_code == 403 and "error" in refused.json()
    assert Submission.objects.filter(page=letter).count() == 2


def test_outreaches_need_the_people_resource(client, admin, letter):
    write(letter, "w@example.net")
    api = make_api(client, admin, resources=["actions"])
    assert api.get("advocacy_campaigns").status_code == 200
    response = api.get(f"advocacy_campaigns/{letter.pk}/outreaches")
    assert response.status_code == 403 and "error" in response.json()


@pytest.mark.parametrize(
    "params", [{"page": "zero"}, {"per_page": "-3"}, {"filter": "colour eq 'red'"}]
)
def test_bad_paging_and_filters_are_json_400s(admin_api, letter, params):
    for collection in (
        "advocacy_campaigns",
        f"advocacy_campaigns/{letter.pk}/outreaches",
        "surveys",
    ):
        response = admin_api.get(collection, **params)
        assert response.status_code == 400 and "error" in response.json(), collection


def test_campaigns_filter_by_title_and_page(admin_api, letter):
    make_page(kind=ActionPage.Kind.LETTER, slug="second", title="Second letter")
    found = admin_api.get("advocacy_campaigns", filter="title eq 'Second letter'").json()
    assert [c["title"] for c in found["_embedded"]["osdi:advocacy_campaigns"]] == ["Second letter"]
    first = admin_api.get("advocacy_campaigns", per_page=1).json()
    assert first["total_pages"] == 2 and "next" in first["_links"]


@pytest.mark.django_db(transaction=True)
def test_background_outreach_is_recorded_by_the_worker(
    admin_api, letter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            f"advocacy_campaigns/{letter.pk}/outreaches?background_processing=true",
            {"person": {"email_addresses": [{"address": "later@example.net"}]}},
        )
    assert response.status_code == 200 and response.json() == {}
    assert not Submission.objects.exists()
    run_queue()
    assert Submission.objects.get(page=letter).person.email == "later@example.net"


# --- Surveys ---------------------------------------------------------------------------------


def test_survey_pages_are_served_as_surveys_with_their_responses(
    admin_api, survey, letter, north_person
):
    write(survey, north_person.email, answers={"issue": "Buses", "bus": True})
    body = admin_api.get("surveys").json()
    (doc,) = body["_embedded"]["action_network:surveys"]
    assert ident(doc) == survey.pk and doc["total_responses"] == 1
    assert [q["key"] for q in doc["clarion:questions"]] == ["issue", "bus"]
    responses = admin_api.get(path(doc["_links"]["action_network:responses"]["href"])).json()
    (answer,) = responses["_embedded"]["action_network:responses"]
    assert answer["clarion:answers"] == {"issue": "Buses", "bus": True}
    assert answer["_links"]["osdi:person"]["href"].endswith(f"/people/{north_person.pk}")
    assert admin_api.get(path(answer["_links"]["self"]["href"])).json() == answer
    assert admin_api.get(path(answer["_links"]["action_network:survey"]["href"])).json() == (
        admin_api.get(f"surveys/{survey.pk}").json()
    )
    # The same page is still a form, as before.
    assert admin_api.get(f"forms/{survey.pk}").status_code == 200
    mine = admin_api.get(f"people/{north_person.pk}/responses").json()
    assert mine["total_records"] == 1
    assert admin_api.get(f"people/{north_person.pk}/responses/{ident(answer)}").status_code == 200
    missing = admin_api.get(f"surveys/{letter.pk}")
    assert missing.status_code == 404 and "survey" in missing.json()["error"]


def test_an_area_key_sees_only_its_peoples_responses(
    client, organiser, survey, north_person, south_person
):
    write(survey, north_person.email, answers={"issue": "North"})
    south = write(survey, south_person.email, answers={"issue": "South"})
    api = make_api(client, organiser)
    body = api.get(f"surveys/{survey.pk}/responses").json()
    assert body["total_records"] == 1
    assert body["_embedded"]["action_network:responses"][0]["clarion:answers"] == {"issue": "North"}
    assert api.get(f"surveys/{survey.pk}/responses/{south.pk}").status_code == 404
    assert api.get(f"people/{south_person.pk}/responses").status_code == 404
