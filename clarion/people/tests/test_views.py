"""Staff pages for people: what admins, organisers (in and out of scope) and analysts
can see and do."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clarion.core.testing import factories
from clarion.people.models import Activity, CustomField, Person, PersonList, Tag
from clarion.people.services import list_add, note_add, tag_add

pytestmark = pytest.mark.django_db


def test_people_list_shows_people_linked_to_their_page(admin_client, north_person, south_person):
    response = admin_client.get(reverse("people:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nora North" in html and "Sid South" in html
    assert reverse("people:detail", args=[north_person.pk]) in html


def test_organiser_list_shows_only_their_area(organiser_client, north_person, south_person):
    html = organiser_client.get(reverse("people:list")).content.decode()
    assert "Nora North" in html
    assert "Sid South" not in html


@pytest.mark.parametrize(
    "query", ["nora", "North", "Nora North", "nora@example", "nora@example.net", "LS1", "ls14ap"]
)
def test_search_finds_by_name_email_or_postcode(admin_client, north_person, south_person, query):
    html = admin_client.get(reverse("people:list"), {"q": query}).content.decode()
    assert "Nora North" in html
    assert "Sid South" not in html
    assert "1 person" in html


def test_search_finds_other_email(admin_client, north_person):
    from clarion.people.services import person_upsert

    person_upsert(email="nora@example.net", identifier=("crm", "1"))
    from clarion.people.models import PersonEmail

    PersonEmail.objects.create(person=north_person, email="nora.work@example.org")
    html = admin_client.get(reverse("people:list"), {"q": "nora.work@example.org"}).content.decode()
    assert "Nora North" in html


def test_filter_by_tag_and_area(admin_client, areas, north_person, south_person):
    tag_add(person=south_person, tag="Volunteer")
    tag = Tag.objects.get(name="Volunteer")
    html = admin_client.get(reverse("people:list"), {"tag": tag.pk}).content.decode()
    assert "Sid South" in html and "Nora North" not in html
    html = admin_client.get(reverse("people:list"), {"area": areas.north.pk}).content.decode()
    assert "Nora North" in html and "Sid South" not in html


def test_organiser_cannot_filter_by_an_area_outside_scope(organiser_client, areas, south_person):
    response = organiser_client.get(reverse("people:list"), {"area": areas.south.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sid South" not in html
    assert "Select a valid choice" in html


def test_segment_filter_is_scoped(organiser, admin, areas, north_person):
    from django.test import Client

    from clarion.people.models import Segment

    south_segment = Segment.objects.create(
        name="South only", definition={"op": "all", "conditions": []}, owner_area=areas.south
    )
    as_organiser, as_admin = Client(), Client()
    as_organiser.force_login(organiser)
    as_admin.force_login(admin)
    # An organiser cannot use a segment made in another area.
    assert (
        as_organiser.get(reverse("people:list"), {"segment": south_segment.pk}).status_code == 404
    )
    assert as_organiser.get(reverse("people:list"), {"segment": "junk"}).status_code == 404
    response = as_admin.get(reverse("people:list"), {"segment": south_segment.pk})
    assert response.status_code == 200
    assert "South only" in response.content.decode()


def test_segment_filter_lists_its_people_with_an_exact_count(
    admin_client, areas, north_person, south_person
):
    from clarion.people.models import Segment

    tag_add(person=south_person, tag="Donor")
    tag = Tag.objects.get(name="Donor")
    segment = Segment.objects.create(
        name="Donors",
        definition={"op": "all", "conditions": [{"type": "tag", "tags": [tag.pk], "match": "any"}]},
    )
    html = admin_client.get(reverse("people:list"), {"segment": segment.pk}).content.decode()
    assert "Sid South" in html and "Nora North" not in html
    assert "1 person" in html


def test_broken_segment_definition_is_a_message_not_a_500(admin_client, north_person):
    from clarion.people.models import Segment

    segment = Segment.objects.create(name="Broken", definition={"op": "nonsense"})
    response = admin_client.get(reverse("people:list"), {"segment": segment.pk})
    assert response.status_code == 200
    assert "Nora North" not in response.content.decode()


def test_keyset_pagination_returns_everyone_exactly_once(admin_client, areas, monkeypatch):
    from clarion.people.views import people as people_views

    monkeypatch.setattr(people_views, "PAGE_SIZE", 4)
    made = {factories.person(postcode=areas.postcodes["north"]).pk for _ in range(11)}
    seen: list[int] = []
    params: dict = {}
    for _page in range(10):
        response = admin_client.get(reverse("people:list"), params)
        seen.extend(p.pk for p in response.context["people"])
        assert "OFFSET" not in str(response.context["people"])
        if not response.context["next_query"]:
            break
        params = dict(pair.split("=") for pair in response.context["next_query"].split("&"))
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


def test_unfiltered_list_caps_its_count(admin_client, areas, monkeypatch):
    from clarion.people.views import people as people_views

    monkeypatch.setattr(people_views, "PAGE_SIZE", 2)
    monkeypatch.setattr(people_views, "COUNT_CAP", 3)
    for _ in range(5):
        factories.person(postcode=areas.postcodes["north"])
    html = admin_client.get(reverse("people:list")).content.decode()
    assert "More than 3 people" in html


def test_bad_page_parameter_is_not_an_error(admin_client, north_person):
    response = admin_client.get(reverse("people:list"), {"after": "nonsense"})
    assert response.status_code == 200
    assert "Nora North" in response.content.decode()


def test_person_page_shows_details_tags_lists_and_timeline(admin_client, admin, north_person):
    CustomField.objects.create(key="ward_role", label="Ward role", kind="text")
    Person.objects.filter(pk=north_person.pk).update(custom_fields={"ward_role": "Treasurer"})
    tag_add(person=north_person, tag="Donor")
    list_add(person=north_person, plist=PersonList.objects.create(name="Phone bank"))
    note_add(person=north_person, text="Called, keen to help", actor=admin)
    html = admin_client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    for text in (
        "Nora North",
        "nora@example.net",
        "LS1 4AP",
        "City Ward",
        "Ward role",
        "Treasurer",
        "Donor",
        "Phone bank",
        "Called, keen to help",
        admin.name,
        "Joined the database",
        "Download their data",
        "Erase this person",
    ):
        assert text in html


def test_organiser_sees_person_in_scope_but_not_outside(
    organiser_client, north_person, south_person
):
    assert organiser_client.get(reverse("people:detail", args=[north_person.pk])).status_code == 200
    assert organiser_client.get(reverse("people:detail", args=[south_person.pk])).status_code == 404
    html = organiser_client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert "Erase this person" not in html  # admins only


def test_recruiter_outside_scope_is_not_linked(organiser_client, north_person, south_person):
    Person.objects.filter(pk=north_person.pk).update(recruiter=south_person)
    html = organiser_client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert "Sid South" not in html
    assert "someone outside your area" in html


def test_analyst_sees_no_forms_and_cannot_post(client, analyst, north_person):
    client.force_login(analyst)
    html = client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert "Nora North" in html
    assert "Add tag" not in html and "Add note" not in html and "Edit" not in html
    tag = Tag.objects.create(name="X")
    plist = PersonList.objects.create(name="L")
    for url in (
        reverse("people:tag_add", args=[north_person.pk]),
        reverse("people:tag_remove", args=[north_person.pk, tag.pk]),
        reverse("people:list_add", args=[north_person.pk]),
        reverse("people:list_remove", args=[north_person.pk, plist.pk]),
        reverse("people:note_add", args=[north_person.pk]),
        reverse("people:edit", args=[north_person.pk]),
        reverse("people:export", args=[north_person.pk]),
        reverse("people:erase", args=[north_person.pk]),
    ):
        assert (
            client.post(url, {"tag-name": "Hacked", "text": "x", "list-name": "x"}).status_code
            == 403
        ), url
    assert not north_person.taggings.exists()


def test_add_and_remove_tag_records_timeline(admin_client, north_person):
    url = reverse("people:tag_add", args=[north_person.pk])
    response = admin_client.post(url, {"tag-name": "  Street   Team "}, follow=True)
    html = response.content.decode()
    assert "Street Team" in html
    assert "Tagged Street Team" in html
    tag = Tag.objects.get(name="Street Team")
    admin_client.post(reverse("people:tag_remove", args=[north_person.pk, tag.pk]))
    assert not north_person.taggings.exists()
    assert north_person.activities.filter(kind=Activity.Kind.UNTAGGED).exists()


def test_empty_tag_name_is_a_clear_error(admin_client, north_person):
    response = admin_client.post(
        reverse("people:tag_add", args=[north_person.pk]), {"tag-name": "  "}, follow=True
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


def test_add_and_remove_list(admin_client, north_person):
    admin_client.post(
        reverse("people:list_add", args=[north_person.pk]), {"list-name": "Canvassers"}
    )
    plist = PersonList.objects.get(name="Canvassers")
    assert north_person.list_memberships.filter(list=plist).exists()
    admin_client.post(reverse("people:list_remove", args=[north_person.pk, plist.pk]))
    assert not north_person.list_memberships.exists()


def test_organiser_cannot_act_on_person_outside_scope(organiser_client, south_person):
    for url in (
        reverse("people:tag_add", args=[south_person.pk]),
        reverse("people:note_add", args=[south_person.pk]),
        reverse("people:edit", args=[south_person.pk]),
        reverse("people:merge", args=[south_person.pk]),
    ):
        assert organiser_client.post(url, {"tag-name": "x", "text": "x"}).status_code == 404, url
    assert not south_person.taggings.exists()
    assert not south_person.activities.filter(kind=Activity.Kind.NOTE).exists()


def test_note_shows_with_author(organiser_client, organiser, north_person):
    organiser_client.post(
        reverse("people:note_add", args=[north_person.pk]), {"text": "Met at the stall"}
    )
    html = organiser_client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert "Met at the stall" in html
    assert f"by {organiser.name}" in html


def test_hostile_text_is_escaped_on_person_page_and_timeline(admin_client, admin, areas):
    person = factories.person(
        postcode=areas.postcodes["north"], first_name="<script>alert(1)</script>", last_name="Evil"
    )
    note_add(person=person, text="<script>alert('note')</script>", actor=admin)
    tag_add(person=person, tag="<img src=x onerror=alert(2)>")
    html = admin_client.get(reverse("people:detail", args=[person.pk])).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;" in html
    list_html = admin_client.get(reverse("people:list")).content.decode()
    assert "<script>alert" not in list_html


def test_timeline_pages_newest_first(admin_client, admin, north_person, monkeypatch):
    from clarion.people.views import people as people_views

    monkeypatch.setattr(people_views, "TIMELINE_PAGE_SIZE", 3)
    for i in range(5):
        note_add(person=north_person, text=f"note number {i}", actor=admin)
    first = admin_client.get(reverse("people:detail", args=[north_person.pk]))
    entries = [a.summary for a in first.context["activities"]]
    assert entries == ["note number 4", "note number 3", "note number 2"]
    older = admin_client.get(
        reverse("people:detail", args=[north_person.pk]),
        {"before": first.context["timeline_older"]},
    )
    summaries = [a.summary for a in older.context["activities"]]
    assert summaries == ["note number 1", "note number 0", "Joined the database"]
    assert older.context["timeline_older"] is None


def test_edit_person_updates_and_records_timeline(admin_client, areas, north_person):
    CustomField.objects.create(key="shifts", label="Shifts done", kind="number")
    CustomField.objects.create(key="role", label="Role", kind="choice", choices=["Member", "Rep"])
    CustomField.objects.create(key="driver", label="Driver", kind="boolean")
    url = reverse("people:edit", args=[north_person.pk])
    form_page = admin_client.get(url)
    assert "Shifts done" in form_page.content.decode()
    response = admin_client.post(
        url,
        {
            "first_name": "Nora",
            "last_name": "Northcote",
            "email": "NORA.new@Example.net",
            "phone": "07911 123456",
            "postcode": "bs5 6xx",
            "email_status": "unsubscribed",
            "email_status_reason": "asked by phone",
            "membership_status": "active",
            "membership_number": "M-1",
            "joined_on": "2024-01-02",
            "cf_shifts": "3",
            "cf_role": "Rep",
            "cf_driver": "yes",
        },
    )
    assert response.status_code == 302
    north_person.refresh_from_db()
    assert north_person.last_name == "Northcote"
    assert north_person.email == "nora.new@example.net"
    assert north_person.phone == "+447911123456"
    assert north_person.area == areas.bristol_east
    assert north_person.email_status == "unsubscribed"
    assert north_person.email_status_reason == "asked by phone"
    assert north_person.membership_number == "M-1"
    assert north_person.custom_fields == {"shifts": 3, "role": "Rep", "driver": True}
    kinds = set(north_person.activities.values_list("kind", flat=True))
    assert {"updated", "email_status", "membership"} <= kinds
    html = admin_client.get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert "asked by phone" in html and "Rep" in html


def test_edit_rejects_bad_values_with_form_errors(admin_client, north_person, south_person):
    CustomField.objects.create(key="role", label="Role", kind="choice", choices=["Member"])
    url = reverse("people:edit", args=[north_person.pk])
    response = admin_client.post(
        url,
        {
            "first_name": "Nora",
            "email": "sid@example.net",
            "phone": "12",
            "postcode": "NOT A CODE",
            "email_status": "subscribed",
            "membership_status": "none",
            "cf_role": "Boss",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice" in html
    response = admin_client.post(
        url,
        {
            "first_name": "Nora",
            "email": "sid@example.net",
            "phone": "12",
            "postcode": "NOT A CODE",
            "email_status": "subscribed",
            "membership_status": "none",
        },
    )
    html = response.content.decode()
    assert "Another person already has this email address" in html
    assert "Enter a valid phone number" in html
    assert "Enter a valid UK postcode" in html
    north_person.refresh_from_db()
    assert north_person.email == "nora@example.net"


def test_edit_can_clear_a_field(admin_client, north_person):
    from clarion.people.services import person_upsert

    person_upsert(email="nora@example.net", town="Leeds")
    url = reverse("people:edit", args=[north_person.pk])
    admin_client.post(
        url,
        {
            "first_name": "Nora",
            "last_name": "North",
            "email": "nora@example.net",
            "town": "",
            "postcode": "LS1 4AP",
            "email_status": "none",
            "membership_status": "none",
        },
    )
    north_person.refresh_from_db()
    assert north_person.town == ""


def test_organiser_can_edit_in_scope(organiser_client, north_person):
    response = organiser_client.get(reverse("people:edit", args=[north_person.pk]))
    assert response.status_code == 200


# --- tags, lists and custom fields ---------------------------------------------


def test_tag_page_counts_only_people_in_scope(organiser, admin, north_person, south_person):
    from django.test import Client

    tag_add(person=north_person, tag="Activist")
    tag_add(person=south_person, tag="Activist")
    tag = Tag.objects.get(name="Activist")
    as_organiser, as_admin = Client(), Client()
    as_organiser.force_login(organiser)
    as_admin.force_login(admin)
    org = as_organiser.get(reverse("people:tag_list"))
    assert [t.people_count for t in org.context["tags"] if t.pk == tag.pk] == [1]
    assert "Rename" not in org.content.decode()
    adm = as_admin.get(reverse("people:tag_list"))
    assert [t.people_count for t in adm.context["tags"] if t.pk == tag.pk] == [2]


def test_admin_renames_and_deletes_a_tag(admin_client, north_person):
    from clarion.core.models import AuditEntry

    tag_add(person=north_person, tag="Old name")
    other = Tag.objects.create(name="Taken")
    tag = Tag.objects.get(name="Old name")
    response = admin_client.post(reverse("people:tag_edit", args=[tag.pk]), {"name": "taken"})
    assert "That name is already used" in response.content.decode()
    admin_client.post(reverse("people:tag_edit", args=[tag.pk]), {"name": "New name"})
    tag.refresh_from_db()
    assert tag.name == "New name"
    confirm = admin_client.get(reverse("people:tag_delete", args=[tag.pk]))
    assert "1 person will lose this tag" in confirm.content.decode()
    admin_client.post(reverse("people:tag_delete", args=[tag.pk]))
    assert not Tag.objects.filter(pk=tag.pk).exists()
    assert not north_person.taggings.exists()
    assert AuditEntry.objects.filter(action="delete", object_type="tag").exists()
    assert Tag.objects.filter(pk=other.pk).exists()


def test_organiser_cannot_manage_tags_lists_or_fields(organiser_client):
    tag = Tag.objects.create(name="T")
    plist = PersonList.objects.create(name="L")
    field = CustomField.objects.create(key="k", label="K")
    for url in (
        reverse("people:tag_edit", args=[tag.pk]),
        reverse("people:tag_delete", args=[tag.pk]),
        reverse("people:list_edit", args=[plist.pk]),
        reverse("people:list_delete", args=[plist.pk]),
        reverse("people:customfield_create"),
        reverse("people:customfield_edit", args=[field.pk]),
    ):
        assert (
            organiser_client.post(
                url, {"name": "x", "key": "z", "label": "z", "kind": "text"}
            ).status_code
            == 403
        )
    assert (
        organiser_client.post(reverse("people:list_list"), {"new-name": "Sneaky"}).status_code
        == 403
    )
    assert Tag.objects.filter(name="T").exists() and PersonList.objects.filter(name="L").exists()
    for name in ("tag_list", "list_list", "customfield_list"):
        assert organiser_client.get(reverse(f"people:{name}")).status_code == 200


def test_admin_manages_lists(admin_client, north_person):
    admin_client.post(
        reverse("people:list_list"), {"new-name": "Drivers", "new-description": "Can drive"}
    )
    plist = PersonList.objects.get(name="Drivers")
    list_add(person=north_person, plist=plist)
    html = admin_client.get(reverse("people:list_list")).content.decode()
    assert "Drivers" in html and "Can drive" in html
    duplicate = admin_client.post(reverse("people:list_list"), {"new-name": "drivers"})
    assert "That name is already used" in duplicate.content.decode()
    admin_client.post(reverse("people:list_edit", args=[plist.pk]), {"name": "Car owners"})
    plist.refresh_from_db()
    assert plist.name == "Car owners"
    admin_client.post(reverse("people:list_delete", args=[plist.pk]))
    assert not PersonList.objects.filter(pk=plist.pk).exists()
    assert Person.objects.filter(pk=north_person.pk).exists()


def test_admin_defines_custom_fields(admin_client):
    response = admin_client.post(
        reverse("people:customfield_create"),
        {"key": "tshirt", "label": "T-shirt size", "kind": "choice", "choices": "S\nM\n\nL\nm"},
    )
    assert response.status_code == 302
    field = CustomField.objects.get(key="tshirt")
    assert field.choices == ["S", "M", "L"]
    bad = admin_client.post(
        reverse("people:customfield_create"),
        {"key": "tshirt", "label": "Again", "kind": "choice", "choices": ""},
    )
    html = bad.content.decode()
    assert "There is already a field with this key" in html
    assert "A choice field needs at least one choice" in html
    bad_key = admin_client.post(
        reverse("people:customfield_create"), {"key": "no spaces!", "label": "X", "kind": "text"}
    )
    assert "Use letters, numbers" in bad_key.content.decode()
    admin_client.post(
        reverse("people:customfield_edit", args=[field.pk]),
        {"key": "changed", "label": "Shirt", "kind": "choice", "choices": "S\nXL"},
    )
    field.refresh_from_db()
    assert (field.key, field.label, field.choices) == ("tshirt", "Shirt", ["S", "XL"])
    assert "Shirt" in admin_client.get(reverse("people:customfield_list")).content.decode()


def test_unknown_ids_are_404(admin_client):
    for url in (
        reverse("people:detail", args=[999999]),
        reverse("people:tag_edit", args=[999999]),
        reverse("people:list_edit", args=[999999]),
        reverse("people:customfield_edit", args=[999999]),
    ):
        assert admin_client.get(url).status_code == 404
