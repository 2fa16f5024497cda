"""Lists and their items, queries (saved segments), metadata and custom fields, and
the answer for collections Clarion does not have (campaigns)."""

from __future__ import annotations

import pytest

from clarion.people.models import CustomField, ListMembership, PersonList, Segment
from clarion.people.services import list_add

from .conftest import make_api

pytestmark = pytest.mark.django_db


@pytest.fixture
def plist(north_person, south_person):
    found = PersonList.objects.create(name="Leaflet team", description="Deliver leaflets")
    list_add(person=north_person, plist=found)
    list_add(person=south_person, plist=found)
    return found


def item_of(plist, person) -> ListMembership:
    return ListMembership.objects.get(list=plist, person=person)


def test_lists_collection_and_single_list(admin_api, plist):
    PersonList.objects.create(name="Phone bank")
    listing = admin_api.get("lists").json()
    assert listing["total_records"] == 2
    names = [d["name"] for d in listing["_embedded"]["osdi:lists"]]
    assert names == ["Leaflet team", "Phone bank"]
    single = admin_api.get(f"lists/{plist.pk}").json()
    assert single["name"] == "Leaflet team" and single["description"] == "Deliver leaflets"
    assert f"action_network:{plist.pk}" in single["identifiers"]
    assert single["_links"]["osdi:items"]["href"].endswith(f"/lists/{plist.pk}/items")
    assert admin_api.get("lists/999999").status_code == 404
    assert "Couldn't find list" in admin_api.get("lists/abc").json()["error"]


def test_items_link_to_people_and_the_list(admin_api, plist, north_person, south_person):
    page = admin_api.get(f"lists/{plist.pk}/items").json()
    assert page["total_records"] == 2
    people = {
        d["_links"]["osdi:person"]["href"].rsplit("/", 1)[1]
        for d in page["_embedded"]["osdi:items"]
    }
    assert people == {str(north_person.pk), str(south_person.pk)}
    item = item_of(plist, south_person)
    single = admin_api.get(f"lists/{plist.pk}/items/{item.pk}").json()
    assert single["item_type"] == "osdi:person"
    assert single["_links"]["osdi:list"]["href"].endswith(f"/lists/{plist.pk}")


def test_organiser_key_sees_only_items_of_people_in_their_area(
    client, organiser, plist, north_person, south_person
):
    api = make_api(client, organiser)
    page = api.get(f"lists/{plist.pk}/items").json()
    assert page["total_records"] == 1
    [only] = page["_embedded"]["osdi:items"]
    assert only["_links"]["osdi:person"]["href"].endswith(f"/people/{north_person.pk}")
    south_item = item_of(plist, south_person)
    response = api.get(f"lists/{plist.pk}/items/{south_item.pk}")
    assert response.status_code == 404
    assert "/people/" not in response.content.decode()
    # The item id of one list cannot be read through another list.
    other = PersonList.objects.create(name="Other")
    assert api.get(f"lists/{other.pk}/items/{item_of(plist, north_person).pk}").status_code == 404


def test_lists_cannot_be_filtered_and_bad_paging_is_400(admin_api, plist):
    filtered = admin_api.get("lists", filter="name eq 'x'")
    assert filtered.status_code == 400 and "cannot be filtered" in filtered.json()["error"]
    assert admin_api.get("lists", page="zero").status_code == 400


def test_key_without_people_cannot_read_lists(client, admin, plist):
    api = make_api(client, admin, resources=["tags"])
    response = api.get("lists")
    assert response.status_code == 403 and "people" in response.json()["error"]
    assert api.get(f"lists/{plist.pk}/items").status_code == 403


def test_queries_are_the_saved_segments_a_key_may_use(
    client, admin, organiser, south_organiser, areas
):
    national = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})
    north = Segment.objects.create(
        name="North",
        owner_area=areas.north,
        created_by=organiser,
        definition={"op": "all", "conditions": []},
    )
    south = Segment.objects.create(
        name="South",
        owner_area=areas.south,
        created_by=south_organiser,
        definition={"op": "all", "conditions": []},
    )
    admin_names = {
        d["name"]
        for d in make_api(client, admin).get("queries").json()["_embedded"]["osdi:queries"]
    }
    assert admin_names == {"Everyone", "North", "South"}
    north_api = make_api(client, organiser)
    north_names = [d["name"] for d in north_api.get("queries").json()["_embedded"]["osdi:queries"]]
    assert north_names == ["North"]
    assert north_api.get(f"queries/{north.pk}").json()["name"] == "North"
    assert north_api.get(f"queries/{south.pk}").status_code == 404
    assert north_api.get(f"queries/{national.pk}").status_code == 404
    # A national admin's key narrowed to the South sees the South's segments only.
    south_key = make_api(client, admin, area=areas.south)
    assert [d["name"] for d in south_key.get("queries").json()["_embedded"]["osdi:queries"]] == [
        "South"
    ]


def test_metadata_links_to_custom_fields(admin_api):
    doc = admin_api.get("metadata").json()
    assert doc["name"] == "Clarion"
    assert doc["_links"]["action_network:custom_fields"]["href"].endswith("/metadata/custom_fields")


def test_custom_fields_list_the_names_people_carry(admin_api):
    CustomField.objects.create(key="ward_role", label="Ward role", kind="text")
    CustomField.objects.create(
        key="shirt", label="T-shirt size", kind="choice", choices=["S", "M", "L"]
    )
    doc = admin_api.get("metadata/custom_fields").json()
    fields = doc["action_network:custom_fields"]
    assert [f["name"] for f in fields] == ["shirt", "ward_role"]
    assert fields[0]["notes"] == "T-shirt size" and fields[0]["clarion:choices"] == ["S", "M", "L"]
    assert fields[1]["created_date"].endswith("Z")


def test_metadata_needs_a_key(client):
    response = client.get("/api/v2/metadata")
    assert response.status_code == 401 and "OSDI-API-Token" in response.json()["error"]


def test_campaigns_answer_404_json_naming_what_is_supported(admin_api):
    response = admin_api.get("campaigns")
    assert response.status_code == 404
    body = response.json()
    assert "does not support the resource campaigns" in body["error"]
    assert {"people", "tags", "lists", "messages", "metadata", "queries"} <= set(body["supported"])
    assert "campaigns" not in body["supported"]
    assert admin_api.get("campaigns/12").status_code == 404
    posted = admin_api.post("campaigns", {"title": "x"})
    assert posted.status_code == 404 and posted["Content-Type"] == "application/hal+json"


def test_unknown_address_under_a_supported_resource_says_so(admin_api, plist):
    response = admin_api.get(f"lists/{plist.pk}/items/1/extra")
    assert response.status_code == 404
    assert "no such address under the lists resource" in response.json()["error"]


def test_entry_point_links_lists_messages_and_metadata(admin_api, client, admin):
    links = admin_api.get("").json()["_links"]
    for rel in ("osdi:lists", "osdi:queries", "osdi:messages", "action_network:metadata"):
        assert rel in links
    tags_only = make_api(client, admin, resources=["tags"]).get("").json()["_links"]
    assert "osdi:lists" not in tags_only and "osdi:messages" not in tags_only
