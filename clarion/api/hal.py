"""HAL+JSON documents in Action Network's shapes (OSDI field names and link relations)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from urllib.parse import urlencode

from django.http import JsonResponse
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from clarion.core.site import site_url
from clarion.people.models import EmailStatus, Person, Tag, Tagging

from .pagination import Page

CONTENT_TYPE = "application/hal+json"
CURIES = [
    {"name": "osdi", "href": "https://opensupporter.github.io/osdi-docs/{rel}", "templated": True},
    {
        "name": "action_network",
        "href": "https://actionnetwork.org/docs/v2/{rel}",
        "templated": True,
    },
]
STATUS_OUT = {
    EmailStatus.NONE: "unsubscribed",
    EmailStatus.SUBSCRIBED: "subscribed",
    EmailStatus.UNSUBSCRIBED: "unsubscribed",
    EmailStatus.BOUNCING: "bouncing",
    EmailStatus.COMPLAINED: "spam complaint",
}


# The collections every person document links, as Action Network's person resource
# does (its documented ``_links``); clients follow them without checking for them.
PERSON_RELATIONS = (
    ("osdi:attendances", "person_attendances"),
    ("osdi:signatures", "person_signatures"),
    ("osdi:submissions", "person_submissions"),
    ("osdi:donations", "person_donations"),
    ("osdi:outreaches", "person_outreaches"),
    ("osdi:taggings", "person_taggings"),
    ("action_network:responses", "person_responses"),
)


def hal_response(data: dict, status: int = 200, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = CONTENT_TYPE
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(
    status: int, message: str, *, extra: dict | None = None, headers: dict | None = None
) -> JsonResponse:
    return hal_response({"error": message, **(extra or {})}, status=status, headers=headers)


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A page of 25 people links each nine times; reversing every link cost about half of
# the request. Each URL is reversed once per process with placeholder ids and filled
# in with ``str.replace`` after (ids are integers, so nothing needs quoting).
_PLACEHOLDER = "8642097531864209753"
_templates: dict[tuple, tuple[str, tuple[str, ...]]] = {}


def api_path(name: str, scope: tuple | None = None, **kwargs) -> str:
    """``reverse("api:<name>", kwargs=kwargs)``, from a per-process template when every
    value is an integer. ``scope`` is ``(urlconf, script prefix)`` when the caller
    already knows them (``absolute`` keeps them per request)."""
    if not kwargs or not all(type(v) is int for v in kwargs.values()):
        return reverse(f"api:{name}", kwargs=kwargs or None)
    if scope is None:
        scope = (get_urlconf(), get_script_prefix())
    names = tuple(sorted(kwargs))
    key = (scope, name, names)
    found = _templates.get(key)
    if found is None:
        marks = tuple(f"{_PLACEHOLDER}{i}x" for i in range(len(names)))
        # The pattern's own regex must accept the marks ([^/]+ for every id here); if
        # one did not, reverse() would refuse and we fall back to it per call.
        try:
            template = reverse(f"api:{name}", kwargs=dict(zip(names, marks, strict=True)))
        except NoReverseMatch:
            return reverse(f"api:{name}", kwargs=kwargs)
        found = _templates[key] = (template, marks)
    path, marks = found
    for mark, arg in zip(marks, names, strict=True):
        path = path.replace(mark, str(kwargs[arg]))
    return path


def absolute(request, name: str, **kwargs) -> str:
    """The API address of ``name``; with no request (a webhook payload built by a
    worker) it is made from ``settings.SITE_URL``."""
    if request is None:
        return site_url(api_path(name, **kwargs))
    # Scheme, host, URLconf and script prefix once per request (build_absolute_uri
    # checks the host each time); the path from reverse() is already quoted.
    cached = request.__dict__.get("_api_links")
    if cached is None:
        cached = request.__dict__["_api_links"] = (
            request.build_absolute_uri("/")[:-1],
            (get_urlconf(), get_script_prefix()),
        )
    origin, scope = cached
    return origin + api_path(name, scope, **kwargs)


def identifiers(pk: int, extra: Iterable[str] = ()) -> list[str]:
    """Our own id under ``clarion:``, the same id under ``action_network:`` (clients such
    as Parsons read the record's id from that prefix), then foreign ids we were given."""
    return [f"clarion:{pk}", f"action_network:{pk}", *extra]


def person_document(request, person: Person) -> dict:
    contacts = person.__dict__.get("api_contacts")  # set by selectors.people_contacts_load
    if contacts is None:
        contacts = (
            [(i.system, i.value) for i in person.identifiers.all()],
            [e.email for e in person.other_emails.all()],
            [p.number for p in person.other_phones.all()],
        )
    other_ids, other_emails, other_phones = contacts
    foreign = [
        f"{system}:{value}"
        for system, value in other_ids
        if system not in ("clarion", "action_network")
    ]
    status = STATUS_OUT.get(person.email_status, "unsubscribed")
    emails = []
    if person.email:
        emails.append({"primary": True, "address": person.email, "status": status})
    emails += [{"primary": False, "address": e, "status": status} for e in other_emails]
    phones = []
    if person.phone:
        phones.append({"primary": True, "number": person.phone, "number_type": "Mobile"})
    phones += [{"primary": False, "number": n, "number_type": "Mobile"} for n in other_phones]
    address: dict = {"primary": True, "country": person.country}
    lines = [line for line in (person.address_line1, person.address_line2) if line]
    if lines:
        address["address_lines"] = lines
    if person.town:
        address["locality"] = person.town
    if person.postcode:
        address["postal_code"] = person.postcode
    if person.latitude is not None and person.longitude is not None:
        address["location"] = {
            "latitude": person.latitude,
            "longitude": person.longitude,
            "accuracy": "Approximate",
        }
    self_href = absolute(request, "person", person_id=person.pk)
    return {
        "identifiers": identifiers(person.pk, foreign),
        "created_date": iso(person.created_at),
        "modified_date": iso(person.modified_at),
        "given_name": person.first_name,
        "family_name": person.last_name,
        "email_addresses": emails,
        "phone_numbers": phones,
        "postal_addresses": [address],
        "languages_spoken": ["en"],
        "custom_fields": person.custom_fields or {},
        "_links": {
            "self": {"href": self_href},
            **{
                rel: {"href": absolute(request, name, person_id=person.pk)}
                for rel, name in PERSON_RELATIONS
            },
            "curies": CURIES,
        },
    }


def tag_document(request, tag: Tag) -> dict:
    return {
        "identifiers": identifiers(tag.pk),
        "created_date": iso(tag.created_at),
        "modified_date": iso(tag.modified_at),
        "name": tag.name,
        "_links": {
            "self": {"href": absolute(request, "tag", tag_id=tag.pk)},
            "osdi:taggings": {"href": absolute(request, "taggings", tag_id=tag.pk)},
            "curies": CURIES,
        },
    }


def tagging_document(request, tagging: Tagging) -> dict:
    return {
        "identifiers": identifiers(tagging.pk),
        "created_date": iso(tagging.created_at),
        "modified_date": iso(tagging.created_at),
        "item_type": "osdi:person",
        "_links": {
            "self": {
                "href": absolute(request, "tagging", tag_id=tagging.tag_id, tagging_id=tagging.pk)
            },
            "osdi:tag": {"href": absolute(request, "tag", tag_id=tagging.tag_id)},
            "osdi:person": {"href": absolute(request, "person", person_id=tagging.person_id)},
            "curies": CURIES,
        },
    }


def collection_document(
    request, *, page: Page, rel: str, items: list[dict], url_name: str, **kwargs
) -> dict:
    base = absolute(request, url_name, **kwargs)
    params = {k: v for k, v in request.GET.items() if k in ("filter",) and v}

    def link(number: int) -> dict:
        return {
            "href": f"{base}?{urlencode({**params, 'page': number, 'per_page': page.per_page})}"
        }

    links: dict = {"self": link(page.page)}
    if page.page < page.total_pages:
        links["next"] = link(page.page + 1)
    if page.page > 1:
        links["previous"] = link(min(page.page - 1, max(page.total_pages, 1)))
    links[rel] = [item["_links"]["self"] for item in items]
    links["curies"] = CURIES
    return {
        "total_pages": page.total_pages,
        "per_page": page.per_page,
        "page": page.page,
        "total_records": page.total_records,
        "_links": links,
        "_embedded": {rel: items},
    }
