"""Reads for the API. Every person a key reaches comes through ``api_people``, which
applies the owner's scope (``people_for``) and the key's own area on top (invariant 4).
"""

from __future__ import annotations

import hashlib

from django.db.models import CharField, F, IntegerField, QuerySet, Value
from django.utils.translation import gettext as _

from clarion.areas.selectors import area_subtree_q
from clarion.people.models import (
    CustomField,
    ListMembership,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonList,
    PersonPhone,
    Segment,
    Tag,
    Tagging,
)
from clarion.people.selectors import people_for, segments_for

from .errors import ApiError
from .models import ApiKey


def api_key_for_token(token: str) -> ApiKey | None:
    """The live key whose token is ``token``, or None (unknown, revoked, or its owner
    deactivated)."""
    if not token or len(token) > 200:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    key = (
        ApiKey.objects.select_related("owner", "owner__area", "area")
        .filter(token_hash=digest)
        .first()
    )
    if key is None or not key.is_active:
        return None
    return key


def api_keys_for(user) -> QuerySet[ApiKey]:
    """Keys ``user`` may see on the staff page: all for admins, their own otherwise."""
    qs = ApiKey.objects.select_related("owner", "area")
    if getattr(user, "is_admin", False):
        return qs
    return qs.filter(owner=user)


def api_people(key: ApiKey) -> QuerySet[Person]:
    qs = people_for(key.owner)
    if key.area_id:
        qs = qs.filter(area_subtree_q(key.area))
    return qs


# What a person document shows besides the person row: (relation, model, text field).
_CONTACTS = (
    ("identifiers", PersonIdentifier, "value"),
    ("other_emails", PersonEmail, "email"),
    ("other_phones", PersonPhone, "number"),
)


def people_contacts_load(people: list[Person]) -> None:
    """Load the identifiers, other emails and other phones of ``people`` in one query
    (a UNION ALL instead of three prefetches), ordered by id, as each person's
    ``api_contacts``: ``([(system, value)], [email], [number])``, which
    ``hal.person_document`` reads instead of querying the relations."""
    ids = [p.pk for p in people]
    if not ids:
        return
    parts = []
    for kind, (_relation, model, text) in enumerate(_CONTACTS):
        system = F("system") if model is PersonIdentifier else Value("", CharField())
        qs = model.objects.filter(person_id__in=ids).annotate(
            contact_kind=Value(kind, output_field=IntegerField()),
            contact_system=system,
            contact_text=F(text),
        )
        parts.append(
            qs.values_list("contact_kind", "pk", "person_id", "contact_system", "contact_text")
        )
    loaded: dict[int, tuple[list, list, list]] = {pk: ([], [], []) for pk in ids}
    for kind, _pk, person_id, system, text in sorted(
        parts[0].union(*parts[1:], all=True), key=lambda row: (row[0], row[1])
    ):
        loaded[person_id][kind].append((system, text) if kind == 0 else text)
    for person in people:
        person.api_contacts = loaded[person.pk]


def api_scope_fingerprint(key: ApiKey) -> str:
    """A string that changes whenever what ``key`` reaches could change."""
    owner_scope = key.owner.scope_area
    return f"{key.owner.role}:{owner_scope.path if owner_scope else '*'}:{key.area.path if key.area_id else '*'}"


def int_id(value) -> int | None:
    """``value`` (a URL segment or payload field) as a positive id that fits a bigint
    column, or None, so a malformed id is a 404 rather than a database error."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def api_person(key: ApiKey, person_id) -> Person:
    pk = int_id(person_id)
    person = api_people(key).filter(pk=pk).first() if pk else None
    if person is None:
        raise ApiError(
            404, _("Couldn't find person with id = %(id)s") % {"id": str(person_id)[:50]}
        )
    return person


def api_tag(tag_id) -> Tag:
    pk = int_id(tag_id)
    tag = Tag.objects.filter(pk=pk).first() if pk else None
    if tag is None:
        raise ApiError(404, _("Couldn't find tag with id = %(id)s") % {"id": str(tag_id)[:50]})
    return tag


def api_taggings(key: ApiKey, tag: Tag) -> QuerySet[Tagging]:
    return Tagging.objects.filter(tag=tag, person_id__in=api_people(key).values("pk"))


def api_tagging(key: ApiKey, tag: Tag, tagging_id) -> Tagging:
    pk = int_id(tagging_id)
    tagging = (
        api_taggings(key, tag).select_related("person", "tag").filter(pk=pk).first() if pk else None
    )
    if tagging is None:
        raise ApiError(
            404, _("Couldn't find tagging with id = %(id)s") % {"id": str(tagging_id)[:50]}
        )
    return tagging


def api_person_taggings(person: Person) -> QuerySet[Tagging]:
    """The taggings of ``person``, who was already reached through ``api_person``."""
    return Tagging.objects.filter(person=person)


def api_person_tagging(person: Person, tagging_id) -> Tagging:
    pk = int_id(tagging_id)
    tagging = (
        api_person_taggings(person).select_related("person", "tag").filter(pk=pk).first()
        if pk
        else None
    )
    if tagging is None:
        raise ApiError(
            404, _("Couldn't find tagging with id = %(id)s") % {"id": str(tagging_id)[:50]}
        )
    return tagging


# --- Lists, their items, saved segments (Action Network "queries"), custom fields ----


def api_lists() -> QuerySet[PersonList]:
    """Every hand-kept list. Lists are shared by all staff (the staff composer offers
    them all too); what a key sees of a list's members is narrowed by ``api_list_items``."""
    return PersonList.objects.all()


def api_list(list_id) -> PersonList:
    pk = int_id(list_id)
    found = PersonList.objects.filter(pk=pk).first() if pk else None
    if found is None:
        raise ApiError(404, _("Couldn't find list with id = %(id)s") % {"id": str(list_id)[:50]})
    return found


def api_list_items(key: ApiKey, plist: PersonList) -> QuerySet[ListMembership]:
    """The memberships of ``plist`` whose person ``key`` reaches (invariant 4)."""
    return ListMembership.objects.filter(list=plist, person_id__in=api_people(key).values("pk"))


def api_list_item(key: ApiKey, plist: PersonList, item_id) -> ListMembership:
    pk = int_id(item_id)
    item = api_list_items(key, plist).filter(pk=pk).first() if pk else None
    if item is None:
        raise ApiError(404, _("Couldn't find item with id = %(id)s") % {"id": str(item_id)[:50]})
    return item


def api_segments(key: ApiKey) -> QuerySet[Segment]:
    """Saved segments the key may use: the owner's (``segments_for``), and for a key
    narrowed to an area only those made inside it. Counting or mailing a segment
    always applies the people scope on top, so a segment never widens what a key reaches."""
    qs = segments_for(key.owner)
    if key.area_id:
        qs = qs.filter(area_subtree_q(key.area, field="owner_area"))
    return qs


def api_segment(key: ApiKey, segment_id) -> Segment:
    pk = int_id(segment_id)
    found = api_segments(key).filter(pk=pk).first() if pk else None
    if found is None:
        raise ApiError(
            404, _("Couldn't find query with id = %(id)s") % {"id": str(segment_id)[:50]}
        )
    return found


def api_custom_fields() -> QuerySet[CustomField]:
    return CustomField.objects.order_by("key")
