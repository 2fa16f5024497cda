"""The set-based people services (for automation): the same rows and timeline entries
as their one-person forms, in a few statements."""

from __future__ import annotations

import pytest

from clarion.core.testing import factories
from clarion.people import services
from clarion.people.models import Activity, ListMembership, Person, PersonList, Tag, Tagging

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd(areas):
    return [factories.person() for _ in range(5)]


def test_tag_add_many_tags_those_without_it_once_each_with_a_timeline_entry(
    crowd, django_capture_on_commit_callbacks, django_assert_max_num_queries, monkeypatch
):
    tag = Tag.objects.create(name="volunteer")
    services.tag_add(person=crowd[0], tag=tag)
    before = Person.objects.get(pk=crowd[1].pk).modified_at
    heard = []
    monkeypatch.setattr(services, "activity_listeners", [heard.append])
    ids = [p.pk for p in crowd]

    with django_capture_on_commit_callbacks(execute=True):
        with django_assert_max_num_queries(8):
            added = services.tag_add_many(person_ids=ids + ids, tag=tag)
        assert heard == []  # listeners wait for the commit

    assert added == set(ids[1:])
    assert sorted(Tagging.objects.filter(tag=tag).values_list("person_id", flat=True)) == ids
    entries = Activity.objects.filter(kind="tagged", data__tag=tag.pk)
    assert sorted(entries.values_list("person_id", flat=True)) == ids  # one each, none twice
    assert {a.summary for a in entries} == {"Tagged volunteer"}
    assert sorted(a.person_id for a in heard) == ids[1:]
    assert all(a.pk for a in heard)
    assert Person.objects.get(pk=crowd[1].pk).modified_at > before
    assert services.tag_add_many(person_ids=ids, tag=tag) == set()  # idempotent


def test_tag_add_many_goes_one_by_one_when_someone_tags_meanwhile(crowd, monkeypatch):
    tag = Tag.objects.create(name="raced")
    ids = [p.pk for p in crowd]
    real_filter = Tagging.objects.filter
    services.tag_add(person=crowd[2], tag=tag)  # there already, but unseen by the check

    class Blind:
        def values_list(self, *a, **kw):
            return []

    calls = []

    def blind_once(*args, **kwargs):
        if not calls:
            calls.append(1)
            return Blind()
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Tagging.objects, "filter", blind_once)
    added = services.tag_add_many(person_ids=ids, tag=tag)
    monkeypatch.undo()
    assert added == set(ids) - {crowd[2].pk}
    assert Tagging.objects.filter(tag=tag).count() == 5
    assert Activity.objects.filter(kind="tagged", data__tag=tag.pk).count() == 5


def test_tag_remove_many_removes_from_those_who_had_it(crowd):
    tag = Tag.objects.create(name="lapsed")
    for p in crowd[:3]:
        services.tag_add(person=p, tag=tag)
    removed = services.tag_remove_many(person_ids=[p.pk for p in crowd], tag=tag)
    assert removed == {p.pk for p in crowd[:3]}
    assert not Tagging.objects.filter(tag=tag).exists()
    assert Activity.objects.filter(kind="untagged", data__tag=tag.pk).count() == 3


def test_list_add_many_adds_those_not_on_it(crowd):
    plist = PersonList.objects.create(name="Callers")
    services.list_add(person=crowd[4], plist=plist)
    added = services.list_add_many(person_ids=[p.pk for p in crowd], plist=plist)
    assert added == {p.pk for p in crowd[:4]}
    assert ListMembership.objects.filter(list=plist).count() == 5
    assert Activity.objects.filter(kind="listed", data__list=plist.pk).count() == 5
