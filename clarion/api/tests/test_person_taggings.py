"""A person's taggings (``/api/v2/people/{id}/taggings``), as Action Network serves them."""

from __future__ import annotations

import pytest

from clarion.api.models import ApiKey
from clarion.people.models import Tagging
from clarion.people.services import tag_add

from .conftest import make_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def tagged(north_person, south_person):
    for name in ("Volunteer", "Donor", "Speaker"):
        tag_add(person=north_person, tag=name)
    tag_add(person=south_person, tag="Volunteer")
    return north_person


def test_lists_the_persons_taggings_each_linking_its_tag_and_the_person(admin_api, tagged):
    body = admin_api.get(f"people/{tagged.pk}/taggings").json()
    assert body["total_records"] == 3
    items = body["_embedded"]["osdi:taggings"]
    tag_names = set()
    for item in items:
        assert item["item_type"] == "osdi:person"
        assert (
            item["_links"]["osdi:person"]["href"] == f"http://testserver/api/v2/people/{tagged.pk}"
        )
        tag = admin_api.get(item["_links"]["osdi:tag"]["href"].split("/api/v2/")[1]).json()
        tag_names.add(tag["name"])
    assert tag_names == {"Volunteer", "Donor", "Speaker"}
    assert [link["href"] for link in body["_links"]["osdi:taggings"]] == [
        i["_links"]["self"]["href"] for i in items
    ]


def test_pages_like_every_collection(admin_api, tagged):
    first = admin_api.get(f"people/{tagged.pk}/taggings", per_page=2).json()
    assert (first["page"], first["per_page"], first["total_pages"]) == (1, 2, 2)
    assert len(first["_embedded"]["osdi:taggings"]) == 2
    second = admin_api.get(first["_links"]["next"]["href"].split("/api/v2/")[1]).json()
    assert len(second["_embedded"]["osdi:taggings"]) == 1
    seen = {
        i["identifiers"][0]
        for i in first["_embedded"]["osdi:taggings"] + second["_embedded"]["osdi:taggings"]
    }
    assert len(seen) == 3


def test_delete_through_the_person_removes_the_tag(admin_api, tagged):
    tagging = Tagging.objects.filter(person=tagged, tag__name="Donor").get()
    path = f"people/{tagged.pk}/taggings/{tagging.pk}"
    assert (
        admin_api.get(path).json()["_links"]["osdi:person"]["href"].endswith(f"/people/{tagged.pk}")
    )
    response = admin_api.delete(path)
    assert response.status_code == 200
    assert "notice" in response.json()
    assert set(tagged.tags.values_list("name", flat=True)) == {"Volunteer", "Speaker"}
    gone = admin_api.get(path)
    assert gone.status_code == 404 and "error" in gone.json()


def test_a_read_only_key_cannot_delete(client, admin, tagged):
    api = make_api(client, admin, scope=ApiKey.Scope.READ)
    tagging = Tagging.objects.filter(person=tagged).first()
    assert api.get(f"people/{tagged.pk}/taggings").status_code == 200
    response = api.delete(f"people/{tagged.pk}/taggings/{tagging.pk}")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/hal+json" and "error" in response.json()
    assert tagged.taggings.count() == 3


def test_an_area_key_reaches_only_people_of_its_area(north_api, tagged, south_person):
    assert north_api.get(f"people/{tagged.pk}/taggings").json()["total_records"] == 3
    south_tagging = Tagging.objects.get(person=south_person)
    for response in (
        north_api.get(f"people/{south_person.pk}/taggings"),
        north_api.get(f"people/{south_person.pk}/taggings/{south_tagging.pk}"),
        north_api.delete(f"people/{south_person.pk}/taggings/{south_tagging.pk}"),
        # Another person's tagging under an address of one the key reaches.
        north_api.get(f"people/{tagged.pk}/taggings/{south_tagging.pk}"),
        north_api.delete(f"people/{tagged.pk}/taggings/{south_tagging.pk}"),
    ):
        assert response.status_code == 404 and "error" in response.json()
    assert Tagging.objects.filter(person=south_person).count() == 1


def test_taggings_need_the_tags_and_people_resources(client, admin, tagged):
    for resources in (["people"], ["tags"]):
        api = make_api(client, admin, resources=resources)
        response = api.get(f"people/{tagged.pk}/taggings")
        assert response.status_code == 403 and "error" in response.json(), resources


@pytest.mark.parametrize(
    "params",
    [{"page": "x"}, {"per_page": "0"}, {"page": "-1"}, {"filter": "name eq 'Donor'"}],
)
def test_bad_paging_or_a_filter_is_a_json_400(admin_api, tagged, params):
    response = admin_api.get(f"people/{tagged.pk}/taggings", **params)
    assert response.status_code == 400 and "error" in response.json()


def test_bad_ids_and_methods_get_json_errors(admin_api, tagged):
    for path in ("people/abc/taggings", f"people/{tagged.pk}/taggings/abc", "people/0/taggings"):
        response = admin_api.get(path)
        assert response.status_code == 404 and "error" in response.json(), path
    posted = admin_api.post(f"people/{tagged.pk}/taggings", {"name": "x"})
    assert posted.status_code == 405 and "error" in posted.json()
    assert "GET" in posted["Allow"]
