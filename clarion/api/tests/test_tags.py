from __future__ import annotations

import pytest

from clarion.people.models import Tag, Tagging
from clarion.people.services import tag_add

pytestmark = pytest.mark.django_db


def test_create_tag_is_idempotent_by_name(admin_api):
    first = admin_api.post("tags", {"name": "Canvasser"})
    assert first.status_code == 200
    body = first.json()
    tag = Tag.objects.get(name="Canvasser")
    assert body["identifiers"][0] == f"clarion:{tag.pk}" and body["name"] == "Canvasser"
    assert body["_links"]["osdi:taggings"]["href"].endswith(f"/api/v2/tags/{tag.pk}/taggings")
    again = admin_api.post("tags", {"name": "canvasser"})
    assert again.json()["identifiers"] == body["identifiers"]
    assert Tag.objects.count() == 1


def test_tag_create_needs_a_name_and_write_access(admin_api, read_api):
    assert admin_api.post("tags", {"name": "  "}).status_code == 400
    assert (
        "Unknown fields: colour"
        in admin_api.post("tags", {"name": "x", "colour": "red"}).json()["error"]
    )
    assert read_api.post("tags", {"name": "Nope"}).status_code == 403
    assert not Tag.objects.filter(name="Nope").exists()


def test_tags_collection_and_single_tag(admin_api):
    for name in ("A", "B", "C"):
        Tag.objects.create(name=name)
    body = admin_api.get("tags", per_page=2).json()
    assert body["total_records"] == 3 and body["total_pages"] == 2
    assert [t["name"] for t in body["_embedded"]["osdi:tags"]] == ["A", "B"]
    assert "page=2" in body["_links"]["next"]["href"]
    second = admin_api.get("tags", page=2, per_page=2).json()
    assert [t["name"] for t in second["_embedded"]["osdi:tags"]] == ["C"]
    assert "next" not in second["_links"] and "page=1" in second["_links"]["previous"]["href"]
    tag = Tag.objects.get(name="B")
    assert admin_api.get(f"tags/{tag.pk}").json()["name"] == "B"
    assert admin_api.get("tags/424242").status_code == 404


def test_tagging_by_person_link_listed_and_deleted(admin_api, north_person):
    tag = Tag.objects.create(name="Donor")
    href = f"http://elsewhere.example/api/v2/people/{north_person.pk}"
    created = admin_api.post(f"tags/{tag.pk}/taggings", {"_links": {"osdi:person": {"href": href}}})
    assert created.status_code == 200, created.content
    tagging = Tagging.objects.get(tag=tag, person=north_person)
    assert created.json()["_links"]["osdi:person"]["href"].endswith(f"/people/{north_person.pk}")
    listing = admin_api.get(f"tags/{tag.pk}/taggings").json()
    assert listing["total_records"] == 1
    assert listing["_embedded"]["osdi:taggings"][0]["identifiers"][0] == f"clarion:{tagging.pk}"
    deleted = admin_api.delete(f"tags/{tag.pk}/taggings/{tagging.pk}")
    assert deleted.status_code == 200 and "deleted" in deleted.json()["notice"]
    assert not north_person.tags.exists()
    assert admin_api.delete(f"tags/{tag.pk}/taggings/{tagging.pk}").status_code == 404


def test_tagging_by_email_or_identifier(admin_api, north_person):
    tag = Tag.objects.create(name="Member")
    by_email = admin_api.post(
        f"tags/{tag.pk}/taggings",
        {"person": {"email_addresses": [{"address": "NORA@example.net"}]}},
    )
    assert by_email.status_code == 200
    assert north_person.tags.filter(pk=tag.pk).exists()
    other = Tag.objects.create(name="Helper")
    by_id = admin_api.post(
        f"tags/{other.pk}/taggings",
        {"person": {"identifiers": [f"action_network:{north_person.pk}"]}},
    )
    assert by_id.status_code == 200
    assert north_person.tags.filter(pk=other.pk).exists()
    missing = admin_api.post(
        f"tags/{tag.pk}/taggings", {"person": {"email_addresses": [{"address": "x@y.net"}]}}
    )
    assert missing.status_code == 404
    assert admin_api.post(f"tags/{tag.pk}/taggings", {"colour": 1}).status_code == 400


def test_organiser_key_neither_sees_nor_touches_other_areas_taggings(
    north_api, north_person, south_person
):
    tag = Tag.objects.create(name="Shared")
    tag_add(person=north_person, tag=tag)
    tag_add(person=south_person, tag=tag)
    south_tagging = Tagging.objects.get(person=south_person)
    listing = north_api.get(f"tags/{tag.pk}/taggings").json()
    assert listing["total_records"] == 1
    assert listing["_embedded"]["osdi:taggings"][0]["_links"]["osdi:person"]["href"].endswith(
        f"/{north_person.pk}"
    )
    assert north_api.get(f"tags/{tag.pk}/taggings/{south_tagging.pk}").status_code == 404
    assert north_api.delete(f"tags/{tag.pk}/taggings/{south_tagging.pk}").status_code == 404
    other = Tag.objects.create(name="Other")
    href = f"/api/v2/people/{south_person.pk}"
    assert (
        north_api.post(
            f"tags/{other.pk}/taggings", {"_links": {"osdi:person": {"href": href}}}
        ).status_code
        == 404
    )
    by_email = north_api.post(
        f"tags/{other.pk}/taggings",
        {"person": {"email_addresses": [{"address": "sid@example.net"}]}},
    )
    assert by_email.status_code == 404
    assert Tagging.objects.filter(person=south_person).count() == 1
