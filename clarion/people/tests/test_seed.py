"""``clarion seed_people``: believable synthetic people, fast, never colliding."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from clarion.areas.models import Area, Postcode
from clarion.people.models import CustomField, Person, Tag, Tagging
from clarion.people.segments.selectors import segment_count


def _seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_people", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_seeding_an_empty_database_loads_the_demo_areas_and_makes_believable_people():
    output = _seed(count=400, tags=30, seed=7)
    assert "Created 400 people" in output
    assert Area.objects.filter(code="R-N").exists() and Postcode.objects.count() > 100
    assert Person.objects.count() == 400
    assert Tag.objects.count() == 30
    per_person = Tagging.objects.count() / 400
    assert 7 <= per_person <= 13  # about ten each
    people = list(Person.objects.all())
    with_email = [p for p in people if p.email]
    assert len({p.email for p in with_email}) == len(with_email) > 300
    assert all(
        p.email.endswith((".example.com", "@example.com", "@example.org", "@example.net"))
        for p in with_email
    )
    assert len({p.share_code for p in people}) == 400
    assert sum(1 for p in people if p.area_id) > 300
    assert {p.email_status for p in people} >= {"subscribed", "unsubscribed", "none", "bouncing"}
    assert {p.membership_status for p in people} >= {"none", "active", "lapsed"}
    assert sum(1 for p in people if p.custom_fields.get("volunteer_interest")) > 100
    assert CustomField.objects.filter(key="birth_year", kind="number").exists()
    assert all(p.created_at <= p.modified_at for p in people)


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_people_and_a_second_run_never_collides(areas):
    from clarion.core.testing import factories

    factories.person(email="olivia.smith.1@example.org")
    _seed(count=150, tags=10, seed=3)
    first = list(Person.objects.order_by("id").values_list("first_name", "last_name")[1:])
    _seed(count=150, tags=10, seed=3)
    assert Person.objects.count() == 301
    second = list(Person.objects.order_by("id").values_list("first_name", "last_name")[151:])
    assert first == second  # repeatable
    assert (
        Person.objects.values("email")
        .exclude(email=None)
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
        == 0
    )
    # The areas that already existed were used, not replaced by the demo file.
    assert not Area.objects.filter(code="R-M").exists()


@pytest.mark.django_db
def test_seeded_people_are_found_by_segments(areas):
    _seed(count=200, tags=10, seed=5)
    tag = Tag.objects.annotate(n=Count("taggings")).order_by("-n").first()
    expected = (
        Person.objects.filter(taggings__tag=tag, email_status="subscribed").distinct().count()
    )
    assert expected > 0
    from clarion.core.models import User

    admin = User(email="a@example.org", role=User.Role.ADMIN)
    definition = {
        "op": "all",
        "conditions": [
            {"type": "tag", "tags": [tag.pk], "match": "any"},
            {"type": "email_status", "statuses": ["subscribed"]},
        ],
    }
    assert segment_count(admin, definition) == expected


@pytest.mark.django_db
def test_after_seeding_new_taggings_still_count():
    """On PostgreSQL the load rebuilds indexes and turns the tagging triggers back on;
    a tag added afterwards must show in segment counts (via ``tag_ids``)."""
    from clarion.core.models import User
    from clarion.people.services import tag_add

    _seed(count=300, tags=20, seed=9)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM people_person p WHERE p.tag_ids IS DISTINCT FROM COALESCE("
                "(SELECT array_agg(tag_id ORDER BY tag_id) FROM people_tagging t WHERE t.person_id = p.id), '{}')"
            )
            assert cursor.fetchone()[0] == 0
            cursor.execute(
                "SELECT count(*) FROM pg_indexes WHERE indexname IN "
                "('person_facts_gin', 'person_custom_fields_gin', 'tagging_person_idx')"
            )
            assert cursor.fetchone()[0] == 3
            # The segment index array was derived for every seeded row (insert trigger).
            cursor.execute(
                "SELECT count(*) FROM people_person WHERE NOT (facts @> people_facts(tag_ids, area_id, "
                "email_status, membership_status, custom_fields) AND facts <@ people_facts(tag_ids, area_id, "
                "email_status, membership_status, custom_fields))"
            )
            assert cursor.fetchone()[0] == 0
    admin = User(email="a@example.org", role=User.Role.ADMIN)
    tag = Tag.objects.order_by("-id").first()
    definition = {"op": "all", "conditions": [{"type": "tag", "tags": [tag.pk], "match": "any"}]}
    before = segment_count(admin, definition)
    person = Person.objects.exclude(taggings__tag=tag).order_by("id").first()
    tag_add(person=person, tag=tag)
    assert segment_count(admin, definition) == before + 1


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError, match="--count"):
        call_command("seed_people", count=0)
    with pytest.raises(CommandError, match="--tags"):
        call_command("seed_people", count=10, tags=-1)
