from __future__ import annotations

import pytest

from clarion.people.models import Activity, CustomField, EmailStatus, Person, PersonIdentifier, Tag

from .conftest import make_api

pytestmark = pytest.mark.django_db


def test_entry_point_lists_collections_with_curies(admin_api):
    response = admin_api.get("")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/hal+json"
    body = response.json()
    assert body["_links"]["osdi:people"]["href"] == "http://testserver/api/v2/people"
    assert body["_links"]["osdi:tags"]["href"] == "http://testserver/api/v2/tags"
    assert {c["name"] for c in body["_links"]["curies"]} == {"osdi", "action_network"}
    assert body["max_pagesize"] == 25


def test_a_request_without_a_valid_token_is_refused_with_json(client, admin):
    response = client.get("/api/v2/people/")
    assert response.status_code == 401
    assert "OSDI-API-Token" in response.json()["error"]
    bad = client.get("/api/v2/people/", HTTP_OSDI_API_TOKEN="nope.nope")
    assert bad.status_code == 401


def test_a_logged_in_session_is_not_an_api_key(admin_client):
    assert admin_client.get("/api/v2/people/").status_code == 401


def test_get_person_renders_osdi_fields(admin_api, north_person):
    PersonIdentifier.objects.create(person=north_person, system="crm", value="A-17")
    response = admin_api.get(f"people/{north_person.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["identifiers"] == [
        f"clarion:{north_person.pk}",
        f"action_network:{north_person.pk}",
        "crm:A-17",
    ]
    assert body["given_name"] == "Nora" and body["family_name"] == "North"
    assert body["email_addresses"][0] == {
        "primary": True,
        "address": "nora@example.net",
        "status": "unsubscribed",
    }
    assert body["postal_addresses"][0]["postal_code"] == "LS1 4AP"
    assert body["created_date"].endswith("Z") and "T" in body["modified_date"]
    assert body["_links"]["self"]["href"].endswith(f"/api/v2/people/{north_person.pk}")


def test_unknown_person_is_a_json_404(admin_api):
    for ident in ("999999", "abc", "1" * 40):
        response = admin_api.get(f"people/{ident}")
        assert response.status_code == 404
        assert "Couldn't find person" in response.json()["error"]


def test_signup_helper_creates_then_matches_by_email(admin_api, areas):
    body = {
        "person": {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email_addresses": [{"address": " Ada@Example.NET "}],
            "postal_addresses": [{"postal_code": "ls14ap"}],
        },
        "add_tags": ["Volunteer"],
    }
    first = admin_api.post("people", body)
    assert first.status_code == 201, first.content
    person = Person.objects.get(email="ada@example.net")
    assert person.area == areas.leeds_central
    assert person.email_status == EmailStatus.NONE  # no status given: not subscribed
    assert list(person.tags.values_list("name", flat=True)) == ["Volunteer"]
    again = admin_api.post(
        "people/",
        {
            "person": {
                "email_addresses": [{"address": "ada@example.net", "status": "subscribed"}],
                "given_name": "Augusta",
            },
            "remove_tags": ["volunteer"],
        },
    )
    assert again.status_code == 200
    assert again.json()["identifiers"][0] == f"clarion:{person.pk}"
    person.refresh_from_db()
    assert person.first_name == "Augusta" and person.last_name == "Lovelace"
    assert person.email_status == EmailStatus.SUBSCRIBED
    assert not person.tags.exists()
    assert Person.objects.count() == 1


def test_signup_matches_phone_when_email_is_new(admin_api, areas):
    Person.objects.all().delete()
    from clarion.people.services import person_upsert

    existing = person_upsert(
        phone="07911 123456", first_name="Pat", email_status=EmailStatus.UNSUBSCRIBED
    ).person
    response = admin_api.post(
        "people",
        {
            "person": {
                "phone_numbers": [{"number": "447911123456"}],
                "email_addresses": [{"address": "pat@example.net"}],
            }
        },
    )
    assert response.status_code == 200
    existing.refresh_from_db()
    assert existing.email == "pat@example.net"
    assert existing.email_status == EmailStatus.UNSUBSCRIBED  # status only changes when given


def test_put_updates_only_given_fields(admin_api, north_person):
    CustomField.objects.create(key="ward_role", label="Ward role", kind="text")
    response = admin_api.put(
        f"people/{north_person.pk}",
        {
            "family_name": "Northcote",
            "email_addresses": [{"address": "nora@example.net", "status": "unsubscribed"}],
            "postal_addresses": [{"postal_code": "LS2 7EY"}],
            "custom_fields": {"ward_role": "Secretary"},
        },
    )
    assert response.status_code == 200, response.content
    north_person.refresh_from_db()
    assert north_person.first_name == "Nora" and north_person.last_name == "Northcote"
    assert north_person.postcode == "LS2 7EY"
    assert north_person.custom_fields == {"ward_role": "Secretary"}
    assert north_person.email_status == EmailStatus.UNSUBSCRIBED
    assert response.json()["custom_fields"] == {"ward_role": "Secretary"}
    assert north_person.activities.filter(kind=Activity.Kind.EMAIL_STATUS).exists()


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"given_name": 7.5, "email_addresses": "x"}, "must be a list"),
        ({"shoe_size": 9}, "Unknown person fields: shoe_size"),
        (
            {"email_addresses": [{"address": "nora@example.net", "status": "maybe"}]},
            "status must be one of",
        ),
        ({"postal_addresses": [{"postal_code": "NOT A CODE"}]}, "valid UK postcode"),
        ({"custom_fields": {"nope": "x"}}, "no custom field nope"),
        ({"custom_fields": {"nope": {"deep": 1}}}, "must be text"),
    ],
)
def test_bad_input_is_a_400_with_a_message(admin_api, north_person, payload, fragment):
    response = admin_api.put(f"people/{north_person.pk}", payload)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_signup_without_email_or_phone_is_refused(admin_api):
    response = admin_api.post("people", {"person": {"given_name": "Nobody"}})
    assert response.status_code == 400
    assert "email address" in response.json()["error"]
    bad_email = admin_api.post(
        "people", {"person": {"email_addresses": [{"address": "not-an-email"}]}}
    )
    assert bad_email.status_code == 400
    assert bad_email.json()["errors"] == {"email_addresses": "Enter a valid email address."}
    bad_phone = admin_api.post("people", {"person": {"phone_numbers": [{"number": "12"}]}})
    assert bad_phone.status_code == 400 and "phone" in bad_phone.json()["error"]
    assert admin_api.post("people", {"persona": {}}).status_code == 400
    assert not Person.objects.filter(first_name="Nobody").exists()


def test_read_only_key_cannot_write(read_api, north_person):
    response = read_api.put(f"people/{north_person.pk}", {"given_name": "X"})
    assert response.status_code == 403
    assert "read only" in response.json()["error"]
    assert read_api.get(f"people/{north_person.pk}").status_code == 200
    north_person.refresh_from_db()
    assert north_person.first_name == "Nora"


def test_key_limited_to_resources_is_refused_elsewhere(client, admin, north_person):
    api = make_api(client, admin, resources=["tags"])
    assert api.get("people").status_code == 403
    assert api.get("tags").status_code == 200


def test_revoked_key_and_deactivated_owner_stop_working(client, admin, organiser):
    from clarion.api.models import ApiKey
    from clarion.api.services import api_key_revoke

    api = make_api(client, admin)
    assert api.get("").status_code == 200
    api_key_revoke(key=ApiKey.objects.get(owner=admin), actor=admin)
    assert api.get("").status_code == 401
    org_api = make_api(client, organiser)
    organiser.is_active = False
    organiser.save()
    assert org_api.get("").status_code == 401


def test_rate_limit_answers_429_with_retry_after(admin_api, settings):
    settings.CLARION_API_RATE_PER_MINUTE = 2
    assert admin_api.get("").status_code == 200
    assert admin_api.get("").status_code == 200
    response = admin_api.get("")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many" in response.json()["error"]


def test_unsupported_resource_and_method_answer_json(admin_api):
    response = admin_api.get("campaigns")
    assert response.status_code == 404
    assert "does not support the resource campaigns" in response.json()["error"]
    deleting = admin_api.delete("people")
    assert deleting.status_code == 405
    assert "GET" in deleting["Allow"] and "DELETE is not supported" in deleting.json()["error"]


# --- Invariant 4 through the API -------------------------------------------------------


def test_organiser_key_lists_and_reads_only_their_area(north_api, north_person, south_person):
    listing = north_api.get("people").json()
    emails = [p["email_addresses"][0]["address"] for p in listing["_embedded"]["osdi:people"]]
    assert emails == ["nora@example.net"]
    assert listing["total_records"] == 1
    assert north_api.get(f"people/{south_person.pk}").status_code == 404
    filtered = north_api.get("people", filter="email_address eq 'sid@example.net'").json()
    assert filtered["_embedded"]["osdi:people"] == [] and filtered["total_records"] == 0


def test_organiser_key_cannot_change_an_out_of_area_person(north_api, south_person):
    assert north_api.put(f"people/{south_person.pk}", {"given_name": "Hacked"}).status_code == 404
    response = north_api.post(
        "people",
        {
            "person": {"email_addresses": [{"address": "sid@example.net"}], "given_name": "Hacked"},
            "add_tags": ["Leak"],
        },
    )
    assert response.status_code == 403
    assert "Sid" not in response.content.decode() and "South" not in response.content.decode()
    south_person.refresh_from_db()
    assert south_person.first_name == "Sid"
    assert not Tag.objects.filter(name="Leak").exists()


def test_organiser_key_cannot_create_or_move_people_out_of_area(north_api, north_person, areas):
    outside = north_api.post(
        "people",
        {
            "person": {
                "email_addresses": [{"address": "new@example.net"}],
                "postal_addresses": [{"postal_code": "BS5 6XX"}],
            }
        },
    )
    assert outside.status_code == 403
    assert not Person.objects.filter(email="new@example.net").exists()
    moved = north_api.put(
        f"people/{north_person.pk}", {"postal_addresses": [{"postal_code": "BS5 6XX"}]}
    )
    assert moved.status_code == 403
    north_person.refresh_from_db()
    assert north_person.postcode == "LS1 4AP"
    inside = north_api.post(
        "people",
        {
            "person": {
                "email_addresses": [{"address": "new@example.net"}],
                "postal_addresses": [{"postal_code": "LS2 7EY"}],
            }
        },
    )
    assert inside.status_code == 201


def test_admin_key_narrowed_to_an_area_sees_only_it(
    client, admin, areas, north_person, south_person
):
    api = make_api(client, admin, area=areas.south)
    body = api.get("people").json()
    assert [p["given_name"] for p in body["_embedded"]["osdi:people"]] == ["Sid"]


JUNK = [None, 0, -1, 1e308, True, "x", "", [], {}, [None], [{}], {"a": None}, ["x"], {"address": 5}]
JUNK_BODIES = [
    "",
    "null",
    "{}",
    "[]",
    '"text"',
    '{"person": null}',
    "\xff\xfe",
    "{" * 50,
    "[" * 100_000 + "]" * 100_000,
    *(
        {"person": {field: junk}}
        for field in (
            "given_name",
            "email_addresses",
            "phone_numbers",
            "postal_addresses",
            "custom_fields",
            "identifiers",
        )
        for junk in JUNK
    ),
    *(
        {field: junk}
        for field in ("add_tags", "remove_tags", "name", "_links", "person")
        for junk in JUNK
    ),
    *({"email_addresses": [{"address": "a@b.net", "status": junk}]} for junk in JUNK),
    *({"postal_addresses": [{"address_lines": junk, "postal_code": junk}]} for junk in JUNK),
]


def test_junk_never_causes_a_server_error(admin_api, north_person, settings):
    settings.CLARION_API_RATE_PER_MINUTE = 10_000
    tag = Tag.objects.create(name="Junk")
    calls = [
        (admin_api.post, "people"),
        (admin_api.put, f"people/{north_person.pk}"),
        (admin_api.post, "tags"),
        (admin_api.post, f"tags/{tag.pk}/taggings"),
    ]
    for method, path in calls:
        for body in JUNK_BODIES:
            response = method(path, body)
            assert response.status_code < 500, (path, body, response.content)
            if response.status_code >= 400:
                assert response.json()["error"]
    for query in (
        "' or 1=1 --",
        "given_name eq",
        "((((",
        "and and",
        "x" * 3000,
        "given_name eq '\x00'",
    ):
        response = admin_api.get("people", filter=query)
        assert response.status_code in (200, 400), (query, response.content)
    nul = admin_api.post(
        "people", {"person": {"email_addresses": [{"address": "n@b.net"}], "given_name": "a\x00b"}}
    )
    assert nul.status_code == 400 and "control characters" in nul.json()["error"]


def test_foreign_identifiers_given_are_kept_and_shown(admin_api):
    response = admin_api.post(
        "people",
        {
            "person": {
                "email_addresses": [{"address": "id@example.net"}],
                "identifiers": ["crm:9", "legacy:5", "clarion:777"],
            }
        },
    )
    assert response.status_code == 201
    person = Person.objects.get(email="id@example.net")
    assert sorted(f"{i.system}:{i.value}" for i in person.identifiers.all()) == [
        "crm:9",
        "legacy:5",
    ]
    assert response.json()["identifiers"][2:] == ["crm:9", "legacy:5"]
    bad = admin_api.put(f"people/{person.pk}", {"identifiers": ["no-colon"]})
    assert bad.status_code == 400 and "system:value" in bad.json()["error"]
