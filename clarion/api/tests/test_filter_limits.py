"""Input an API client controls is bounded: nested filters, long filters and deeply
nested JSON are refused with a 400 that names the problem, never a 500 or a hang."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from clarion.actions.models import ActionPage
from clarion.api.filters import MAX_CLAUSES, MAX_DEPTH, MAX_LENGTH
from clarion.api.jsonload import MAX_DEPTH as MAX_JSON_DEPTH
from clarion.people.models import Person, Tag
from clarion.people.services import person_upsert

pytestmark = pytest.mark.django_db

ANN = "email_address eq 'ann@example.net'"


@pytest.fixture
def ann(areas):
    person_upsert(email="bob@example.net", first_name="Bob", postcode="LS1 4AP")
    return person_upsert(email="ann@example.net", first_name="Ann", postcode="LS1 4AP").person


def nested(depth: int, clause: str = ANN) -> str:
    return "(" * depth + clause + ")" * depth


def refused(response, *words):
    """A 400 with a JSON error that mentions each of ``words``."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/")
    error = response.json()["error"]
    assert all(word in error for word in words), error
    return error


def emails(response):
    assert response.status_code == 200, response.content
    return [
        a["address"]
        for p in response.json()["_embedded"]["osdi:people"]
        for a in p["email_addresses"]
    ]


def test_six_hundred_nested_brackets_are_a_400_naming_the_depth(admin_api, ann):
    refused(admin_api.get("people", filter=nested(600)), "brackets", str(MAX_DEPTH))


def test_nesting_one_past_the_limit_is_refused_and_at_the_limit_works(admin_api, ann):
    refused(admin_api.get("people", filter=nested(MAX_DEPTH + 1)), "deep")
    assert emails(admin_api.get("people", filter=nested(MAX_DEPTH))) == ["ann@example.net"]


def test_a_31_deep_filter_with_or_inside_still_finds_both_people(admin_api, ann):
    both = "(given_name eq 'Ann' or given_name eq 'Bob')"
    found = emails(admin_api.get("people", filter=nested(31, both)))
    assert sorted(found) == ["ann@example.net", "bob@example.net"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("(" + ANN, ["ends too soon"]),
        (ANN + ")", ["never opened"]),
        ("((" + ANN + ")", ["ends too soon"]),
        (")(" + ANN, ["never opened"]),
        ("(" * 600, ["brackets"]),
        (")" * 600, ["never opened"]),
        ("()", ["cannot filter"]),
    ],
)
def test_unbalanced_brackets_are_a_400_that_says_which_way(admin_api, ann, text, words):
    refused(admin_api.get("people", filter=text), *words)


def test_a_hundred_thousand_character_filter_is_refused_quickly(admin_api, ann):
    flat = " or ".join(f"given_name eq 'P{n}'" for n in range(5000))
    deep = nested(50_000)
    for text in (flat, deep, "x" * 100_000, "'" * 100_000):
        assert len(text) >= 100_000
        started = time.monotonic()
        refused(admin_api.get("people", filter=text), "too long", str(MAX_LENGTH))
        assert time.monotonic() - started < 2


def test_many_flat_or_terms_within_the_length_are_refused_by_count(admin_api, ann):
    text = " or ".join(f"given_name eq 'P{n}'" for n in range(MAX_CLAUSES + 1))
    assert len(text) <= MAX_LENGTH
    refused(admin_api.get("people", filter=text), "too many conditions", str(MAX_CLAUSES))
    allowed = " or ".join([ANN] + [f"given_name eq 'P{n}'" for n in range(MAX_CLAUSES - 1)])
    assert emails(admin_api.get("people", filter=allowed)) == ["ann@example.net"]


def test_other_collections_refuse_deep_filters_the_same_way(admin_api, ann):
    page_filter = nested(600, "title eq 'Save the library'")
    refused(admin_api.get("petitions", filter=page_filter), "brackets")
    refused(admin_api.get("fundraising_pages", filter=page_filter), "brackets")


# --- JSON bodies ------------------------------------------------------------------


def deep_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [10_000, 600, MAX_JSON_DEPTH + 1])
def test_deeply_nested_bodies_are_a_400_on_every_kind_of_write(admin_api, ann, depth):
    donation_page = ActionPage.objects.create(
        kind=ActionPage.Kind.DONATION, title="Appeal", slug="appeal", area=ann.area
    )
    lists = "[" * depth + "]" * depth
    for method, path, body in [
        ("post", "people", deep_json(depth)),
        ("put", f"people/{ann.pk}", deep_json(depth)),
        ("post", "tags", deep_json(depth)),
        ("post", "petitions", deep_json(depth)),
        ("post", "fundraising_pages", lists),
        ("post", f"fundraising_pages/{donation_page.pk}/donations", deep_json(depth)),
        ("put", f"fundraising_pages/{donation_page.pk}", deep_json(depth)),
    ]:
        response = getattr(admin_api, method)(path, body)
        refused(response, "deep", str(MAX_JSON_DEPTH))
    assert Person.objects.count() == 2 and not Tag.objects.exists()
    assert ActionPage.objects.count() == 1


def test_deep_json_in_the_query_string_is_a_400(client, admin_api, ann):
    # No body at all, as Parsons sends these: the payload is the query string.
    token = {"HTTP_OSDI_API_TOKEN": admin_api.token, "data": "", "content_type": "text/plain"}
    # A fundraising page payload with one parameter holding JSON text.
    response = client.post(
        "/api/v2/fundraising_pages?title=Appeal&_links=" + quote("[" * 5000 + "]" * 5000),
        **token,
    )
    refused(response, "deep")
    # A petition payload sent as one JSON object in the query string (Parsons).
    response = client.post("/api/v2/petitions?" + quote(deep_json(5000)), **token)
    refused(response, "deep")
    assert ActionPage.objects.count() == 0


def test_brackets_inside_text_do_not_count_as_nesting(admin_api, ann):
    name = '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ {{{{{{{{{{{{{{{{{{{{{{{{ \\" [[[['
    response = admin_api.put(f"people/{ann.pk}", {"family_name": name})
    assert response.status_code == 200, response.content
    assert response.json()["family_name"] == name


def test_a_body_as_deep_as_the_limit_is_read_and_judged_on_its_fields(admin_api, ann):
    def body(depth):
        inner = '{"a":' * (depth - 1) + '"x"' + "}" * (depth - 1)
        return '{"family_name": "Archer", "mystery": ' + inner + "}"

    refused(admin_api.put(f"people/{ann.pk}", body(MAX_JSON_DEPTH)), "Unknown", "mystery")
    refused(admin_api.put(f"people/{ann.pk}", body(MAX_JSON_DEPTH + 1)), "deep")
    ann.refresh_from_db()
    assert ann.last_name == ""


def test_broken_json_is_still_called_broken_not_deep(admin_api, ann):
    refused(admin_api.post("tags", '{"name": "x"'), "not valid JSON")
    refused(admin_api.post("tags", '{"name": "x"}}]]'), "not valid JSON")
