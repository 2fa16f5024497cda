"""HAL+JSON documents for lists, list items, queries (saved segments) and metadata,
in Action Network's shapes. People, tags and taggings are in ``hal.py``."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from clarion.people.models import ListMembership, PersonList, Segment

from .hal import CURIES, absolute, identifiers, iso

ORIGIN = "Clarion"


def list_document(request, plist: PersonList) -> dict:
    return {
        "identifiers": identifiers(plist.pk),
        "origin_system": ORIGIN,
        "created_date": iso(plist.created_at),
        "modified_date": iso(plist.modified_at),
        "name": plist.name,
        "title": plist.name,
        "description": plist.description,
        "_links": {
            "self": {"href": absolute(request, "list", list_id=plist.pk)},
            "osdi:items": {"href": absolute(request, "list_items", list_id=plist.pk)},
            "curies": CURIES,
        },
    }


def item_document(request, item: ListMembership) -> dict:
    return {
        "identifiers": identifiers(item.pk),
        "created_date": iso(item.created_at),
        "modified_date": iso(item.created_at),
        "item_type": "osdi:person",
        "_links": {
            "self": {"href": absolute(request, "list_item", list_id=item.list_id, item_id=item.pk)},
            "osdi:list": {"href": absolute(request, "list", list_id=item.list_id)},
            "osdi:person": {"href": absolute(request, "person", person_id=item.person_id)},
            "curies": CURIES,
        },
    }


def query_document(request, segment: Segment) -> dict:
    return {
        "identifiers": identifiers(segment.pk),
        "origin_system": ORIGIN,
        "created_date": iso(segment.created_at),
        "modified_date": iso(segment.modified_at),
        "name": segment.name,
        "description": segment.description,
        "_links": {
            "self": {"href": absolute(request, "query", query_id=segment.pk)},
            "curies": CURIES,
        },
    }


def metadata_document(request) -> dict:
    return {
        "name": ORIGIN,
        "_links": {
            "self": {"href": absolute(request, "metadata")},
            "action_network:custom_fields": {"href": absolute(request, "custom_fields")},
            "curies": CURIES,
        },
    }


def custom_fields_document(request, fields: QuerySet) -> dict:
    return {
        "origin_system": ORIGIN,
        "name": _("Custom fields"),
        "description": _(
            "The custom fields people carry in Clarion; a person's custom_fields use these names."
        ),
        "action_network:custom_fields": [
            {
                "name": field.key,
                "created_date": iso(field.created_at),
                "modified_date": iso(field.created_at),
                "notes": field.label,
                "numeric_id": field.pk,
                "clarion:kind": field.kind,
                **({"clarion:choices": field.choices} if field.choices else {}),
            }
            for field in fields
        ],
        "_links": {"self": {"href": absolute(request, "custom_fields")}, "curies": CURIES},
    }
