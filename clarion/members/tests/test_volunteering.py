"""My volunteering: skills, interests and times kept as volunteering tags, shown on
the staff person page and found by the "volunteer" segment condition."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clarion.core.testing import factories
from clarion.people.models import Activity, Segment, Tag
from clarion.people.segments.registry import condition_type
from clarion.people.segments.selectors import segment_count, segment_people
from clarion.people.services import tag_add, tags_by_name


@pytest.fixture
def choices(db):
    names = ["Skill: First aid", "Skill: Driving", "Interest: Events", "Available: Weekends"]
    tags = dict(zip(["aid", "driving", "events", "weekends"], tags_by_name(names), strict=True))
    tags["other"] = tags_by_name(["Major donor"])[0]
    return tags


def test_member_ticks_skills_and_times_and_they_become_tags(member_client, member, choices):
    page = member_client.get("/members/volunteering/").content.decode()
    assert "What can you do?" in page and "First aid" in page and "Weekends" in page
    assert "Major donor" not in page  # other tags are never offered
    tag_add(person=member, tag=choices["other"])
    response = member_client.post(
        "/members/volunteering/",
        {"skill": [choices["aid"].pk], "availability": [choices["weekends"].pk]},
    )
    assert response.status_code == 302
    assert set(member.taggings.values_list("tag__name", flat=True)) == {
        "Skill: First aid",
        "Available: Weekends",
        "Major donor",
    }
    page = member_client.get("/members/volunteering/").content.decode()
    assert "your volunteering choices are saved" in page
    # Unticking removes only that choice; the staff tag stays.
    member_client.post("/members/volunteering/", {"skill": [choices["aid"].pk]})
    assert set(member.taggings.values_list("tag__name", flat=True)) == {
        "Skill: First aid",
        "Major donor",
    }
    summaries = list(
        Activity.objects.filter(person=member, kind__in=["tagged", "untagged"]).values_list(
            "summary", flat=True
        )
    )
    assert any("Available: Weekends" in s for s in summaries)


def test_a_tag_that_is_not_a_volunteering_choice_is_a_form_error(member_client, member, choices):
    response = member_client.post("/members/volunteering/", {"skill": [choices["other"].pk]})
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    response = member_client.post("/members/volunteering/", {"skill": ["abc"]})
    assert response.status_code == 400
    assert not member.taggings.exists()


def test_the_page_needs_a_signed_in_member(client, choices):
    response = client.get("/members/volunteering/")
    assert response.status_code == 302 and "/members/sign-in/" in response["Location"]


def test_staff_see_the_choices_and_segment_on_them(
    client, admin, organiser, areas, member_client, member, choices
):
    member_client.post(
        "/members/volunteering/",
        {"skill": [choices["aid"].pk, choices["driving"].pk], "interest": [choices["events"].pk]},
    )
    south = factories.person(postcode=areas.postcodes["south"], email="sue@example.net")
    tag_add(person=south, tag=choices["aid"])
    definition = {
        "op": "all",
        "conditions": [{"type": "volunteer", "choices": [choices["aid"].pk], "match": "any"}],
    }
    assert segment_count(admin, definition) == 2
    assert segment_count(organiser, definition) == 1  # scope holds
    both = {
        "op": "all",
        "conditions": [
            {
                "type": "volunteer",
                "choices": [choices["aid"].pk, choices["events"].pk],
                "match": "all",
            }
        ],
    }
    assert list(segment_people(admin, both)) == [member]
    none_of = {
        "op": "not",
        "conditions": [{"type": "volunteer", "choices": [choices["driving"].pk], "match": "any"}],
    }
    assert member not in segment_people(admin, none_of) and south in segment_people(admin, none_of)
    # Only volunteering tags are accepted; a bad id is a clear error.
    bad = {
        "op": "all",
        "conditions": [{"type": "volunteer", "choices": [choices["other"].pk], "match": "any"}],
    }
    with pytest.raises(Exception, match="not one of the available choices"):
        segment_count(admin, bad)

    client.force_login(admin)
    person_page = client.get(f"/staff/people/{member.pk}/").content.decode()
    assert "Skill: First aid" in person_page and "Interest: Events" in person_page
    # The builder offers the condition and counts with it.
    url = reverse("people:segment_new")
    row = client.post(
        url, {"g0-op": "all", "action": "add:g0", "add-type-g0": "volunteer"}
    ).content.decode()
    row = row[row.index('data-node="r1"') : row.index('value="remove:r1"')]
    assert 'name="r1-choices"' in row
    assert f'<option value="{choices["driving"].pk}">Skill: Driving</option>' in row
    assert "Major donor" not in row
    counted = client.post(
        url,
        {
            "name": "First aiders",
            "g0-op": "all",
            "node": ["r1"],
            "r1-type": "volunteer",
            "r1-group": "g0",
            "r1-choices": [str(choices["aid"].pk)],
            "r1-match": "any",
            "action": "count",
        },
    )
    assert counted.status_code == 200 and "2 people" in counted.content.decode()
    segment = Segment.objects.create(name="First aiders", definition=definition)
    assert segment_count(admin, segment) == 2
    assert "Volunteers offering any of: Skill: First aid" == condition_type("volunteer").describe(
        {"choices": [choices["aid"]], "match": "any"}
    )


def test_administrators_add_choices_and_organisers_only_see_them(client, admin, organiser, db):
    client.force_login(admin)
    response = client.post(
        "/staff/members/volunteering/",
        {"skill": "Translation\n  First aid \n\ntranslation", "availability": "Mornings"},
    )
    assert response.status_code == 302
    names = set(Tag.objects.values_list("name", flat=True))
    assert {"Skill: Translation", "Skill: First aid", "Available: Mornings"} <= names
    assert Tag.objects.filter(name__iexact="Skill: Translation").count() == 1
    page = client.get("/staff/members/volunteering/").content.decode()
    assert "Translation" in page and "Mornings" in page
    too_long = client.post("/staff/members/volunteering/", {"interest": "x" * 81})
    assert too_long.status_code == 400 and "80 characters" in too_long.content.decode()

    client.force_login(organiser)
    page = client.get("/staff/members/volunteering/")
    assert page.status_code == 200 and "Translation" in page.content.decode()
    assert "Add these choices" not in page.content.decode()
    refused = client.post("/staff/members/volunteering/", {"skill": "Juggling"})
    assert refused.status_code == 403
    assert not Tag.objects.filter(name__icontains="Juggling").exists()
