"""The Action Network v2 / OSDI compatible API: thin views over selectors and services.

Every view is wrapped by ``endpoint``, which authenticates the ``OSDI-API-Token``
header (sessions are never accepted, so CSRF does not apply), rate-limits per key,
checks the key's scope, and turns every client error into a JSON body.
"""

from __future__ import annotations

import re
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404
from django.urls import URLPattern
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from clarion.people.models import PersonIdentifier, Tag

from . import background, documents, hal, person_extras, selectors, services
from .errors import ApiError
from .filters import PEOPLE_FIELDS, FilterError, parse_filter
from .jsonload import load_json
from .pagination import page_params, paginate
from .state import rate_hit

RATE_WINDOW = 60
TOKEN_HEADER = "HTTP_OSDI_API_TOKEN"
WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}


def _rate_limit() -> int:
    return int(getattr(settings, "CLARION_API_RATE_PER_MINUTE", 600))


def endpoint(*, methods: tuple[str, ...], resource: str | None = None):
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                if request.method not in allowed:
                    raise ApiError(
                        405,
                        _("%(method)s is not supported here.") % {"method": request.method},
                        headers={"Allow": ", ".join(sorted(allowed))},
                    )
                key = selectors.api_key_for_token(request.META.get(TOKEN_HEADER, "").strip())
                if key is None:
                    raise ApiError(401, _("Give a valid API key in the OSDI-API-Token header."))
                hits = rate_hit(ident=str(key.pk), window=RATE_WINDOW)
                if hits > _rate_limit():
                    raise ApiError(
                        429,
                        _("Too many requests for this API key; slow down."),
                        headers={"Retry-After": str(RATE_WINDOW)},
                    )
                if resource is not None and not key.allows(resource):
                    raise ApiError(
                        403, _("This API key may not use %(resource)s.") % {"resource": resource}
                    )
                if request.method in WRITE_METHODS and not key.can_write:
                    raise ApiError(403, _("This API key is read only."))
                services.api_key_touch(key=key)
                return view(request, key, *args, **kwargs)
            except ApiError as exc:
                return hal.error_response(
                    exc.status, exc.message, extra=exc.extra, headers=exc.headers
                )
            except ValidationError as exc:
                return hal.hal_response(services.validation_error_body(exc), status=400)
            except RequestDataTooBig:
                return hal.error_response(413, _("The request body is too large."))
            except PermissionDenied:
                return hal.error_response(403, _("This API key may not make this change."))
            except Http404:
                return hal.error_response(404, _("Not found."))

        return wrapper

    return decorate


def json_body(request):
    """The request body as a JSON object (a dict); an empty body, malformed JSON, a value
    other than an object or text containing NUL is a 400 ``ApiError``."""
    if not request.body:
        raise ApiError(400, _("The request body is empty; send a JSON object."))
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise ApiError(400, _("The request body must be a JSON object."))
    if has_nul(data):
        # PostgreSQL cannot store NUL in text; refuse it here rather than fail later.
        raise ApiError(
            400, _("Text in the request may not contain control characters such as NUL.")
        )
    return data


def has_nul(value, depth: int = 0) -> bool:
    """Whether any string in ``value`` (keys included, nested up to 20 levels) holds a NUL
    character, which PostgreSQL cannot store in text."""
    if isinstance(value, str):
        return "\x00" in value
    if depth > 20:
        return False
    if isinstance(value, dict):
        return any(has_nul(k, depth + 1) or has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v, depth + 1) for v in value)
    return False


def page_or_400(request) -> tuple[int, int]:
    """``(page, per_page)`` from the query string; a value that is not a whole number of
    1 or more is a 400 ``ApiError``."""
    try:
        return page_params(request.GET)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def filter_or_400(request, fields) -> tuple[Q, str]:
    """``filter=`` of ``request`` as a Q over ``fields`` (see ``filters.py``), with its
    stripped text for the paging cache; a filter that does not parse is a 400."""
    raw = request.GET.get("filter", "")
    try:
        return parse_filter(raw, fields), raw.strip()
    except FilterError as exc:
        raise ApiError(400, str(exc)) from None


def collection_response(
    request,
    key,
    qs,
    *,
    filters,
    scope: str,
    rel: str,
    url_name: str,
    build,
    reload=None,
    **url_kwargs,
):
    """One page of ``qs`` narrowed by ``filter=`` over ``filters``, as a HAL collection
    of ``build(request, row)`` documents linked from ``url_name``.

    Pages are keyset seeks cached under ``scope``, the key's reach and the filter, so
    ``scope`` must name the collection and any parent in it. ``reload(queryset)``, when
    given, re-reads the page's rows with annotations (counts, totals) that would be too
    costly on the whole collection.
    """
    page, per_page = page_or_400(request)
    condition, raw = filter_or_400(request, filters)
    result = paginate(
        qs.filter(condition),
        page=page,
        per_page=per_page,
        cache_scope=f"{scope}|{selectors.api_scope_fingerprint(key)}|{raw}",
    )
    rows = result.rows
    if reload is not None:
        by_pk = {r.pk: r for r in reload(qs.model.objects.filter(pk__in=[r.pk for r in rows]))}
        rows = [by_pk[r.pk] for r in rows if r.pk in by_pk]
    items = [build(request, row) for row in rows]
    return hal.hal_response(
        hal.collection_document(
            request, page=result, rel=rel, items=items, url_name=url_name, **url_kwargs
        )
    )


def _people_prefetch(qs):
    return qs.prefetch_related(
        Prefetch("identifiers", queryset=PersonIdentifier.objects.order_by("pk")),
        "other_emails",
        "other_phones",
    )


# The entry point's links: (rel, URL name, title), in the order they are listed.
ENTRY_LINKS = (
    ("osdi:people", "people", "The collection of people in the system"),
    ("osdi:tags", "tags", "The collection of tags in the system"),
    ("osdi:person_signup_helper", "people", "The person signup helper for the system"),
    ("osdi:lists", "lists", "The collection of lists in the system"),
    ("osdi:queries", "queries", "The collection of queries (saved segments) in the system"),
    ("osdi:petitions", "petitions", "The collection of petitions in the system"),
    ("osdi:forms", "forms", "The collection of forms in the system"),
    ("osdi:events", "events", "The collection of events in the system"),
    (
        "osdi:advocacy_campaigns",
        "advocacy_campaigns",
        "The collection of advocacy campaigns (letter pages) in the system",
    ),
    ("action_network:surveys", "surveys", "The collection of surveys in the system"),
    (
        "osdi:fundraising_pages",
        "fundraising_pages",
        "The collection of fundraising pages in the system",
    ),
    ("osdi:donations", "donations", "The collection of donations in the system"),
    ("osdi:messages", "messages", "The collection of messages (mailings) in the system"),
    ("action_network:metadata", "metadata", "Metadata, such as the custom fields in the system"),
)
# The API key resource each rel needs; a key without it is not shown the link.
ENTRY_LINK_RESOURCES = {
    "people": ("osdi:people", "osdi:person_signup_helper", "osdi:lists", "osdi:queries"),
    "messages": ("osdi:messages",),
    "actions": (
        "osdi:petitions",
        "osdi:forms",
        "osdi:advocacy_campaigns",
        "action_network:surveys",
    ),
    "events": ("osdi:events",),
    "donations": ("osdi:fundraising_pages", "osdi:donations"),
    "tags": ("osdi:tags",),
}


def _entry_links(request, key) -> dict:
    """The entry point's ``_links``: every collection the key may use, then curies."""
    hidden = {
        rel
        for resource, rels in ENTRY_LINK_RESOURCES.items()
        if not key.allows(resource)
        for rel in rels
    }
    links: dict = {"self": {"href": hal.absolute(request, "entry")}}
    for rel, url_name, title in ENTRY_LINKS:
        if rel not in hidden:
            links[rel] = {"href": hal.absolute(request, url_name), "title": title}
    links["curies"] = hal.CURIES
    return links


@endpoint(methods=("GET",))
def entry_point(request, key):
    return hal.hal_response(
        {
            "motd": _(
                "Welcome to the Clarion API, compatible with Action Network's API v2 (OSDI)."
            ),
            "vendor_name": "Clarion",
            "product_name": "Clarion",
            "osdi_version": "1.1.1",
            "max_pagesize": 25,
            "namespace": "clarion",
            "_links": _entry_links(request, key),
        }
    )


@endpoint(methods=("GET", "POST"), resource="people")
def people(request, key):
    if request.method == "POST":
        data = json_body(request)
        if background.requested(request):
            return background.queue(key=key, name="people.signup", data=data)
        person, created = services.person_signup(key=key, data=data)
        person = _people_prefetch(selectors.api_people(key)).get(pk=person.pk)
        return hal.hal_response(_person_document(request, person), status=201 if created else 200)
    page, per_page = page_or_400(request)
    condition, text = filter_or_400(request, PEOPLE_FIELDS)
    result = paginate(
        selectors.api_people(key).filter(condition),
        page=page,
        per_page=per_page,
        cache_scope=f"people|{selectors.api_scope_fingerprint(key)}|{text}",
    )
    selectors.people_contacts_load(result.rows)
    items = [hal.person_document(request, p) for p in result.rows]
    person_extras.documents_extend(result.rows, items)
    return hal.hal_response(
        hal.collection_document(
            request, page=result, rel="osdi:people", items=items, url_name="people"
        )
    )


@endpoint(methods=("GET", "PUT"), resource="people")
def person(request, key, person_id):
    found = selectors.api_person(key, person_id)
    if request.method == "PUT":
        data = json_body(request)
        if background.requested(request):
            return background.queue(key=key, name="people.update", person_id=found.pk, data=data)
        found = services.person_api_update(key=key, person=found, data=data)
    found = _people_prefetch(selectors.api_people(key)).get(pk=found.pk)
    return hal.hal_response(_person_document(request, found))


def _person_document(request, person) -> dict:
    """One person's document with the extra fields other apps add (``person_extras``)."""
    document = hal.person_document(request, person)
    person_extras.documents_extend([person], [document])
    return document


def no_filter(request) -> None:
    """Refuse ``filter=`` with a 400 on a collection that cannot be filtered."""
    if request.GET.get("filter"):
        raise ApiError(400, _("This collection cannot be filtered."))


@endpoint(methods=("GET", "POST"), resource="tags")
def tags(request, key):
    if request.method == "POST":
        tag, _created = services.tag_api_create(data=json_body(request))
        return hal.hal_response(hal.tag_document(request, tag))
    no_filter(request)
    page, per_page = page_or_400(request)
    result = paginate(Tag.objects.all(), page=page, per_page=per_page, cache_scope="tags")
    items = [hal.tag_document(request, t) for t in result.rows]
    return hal.hal_response(
        hal.collection_document(request, page=result, rel="osdi:tags", items=items, url_name="tags")
    )


@endpoint(methods=("GET",), resource="tags")
def tag(request, key, tag_id):
    return hal.hal_response(hal.tag_document(request, selectors.api_tag(tag_id)))


@endpoint(methods=("GET", "POST"), resource="tags")
def taggings(request, key, tag_id):
    found = selectors.api_tag(tag_id)
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    if request.method == "POST":
        data = json_body(request)
        if background.requested(request):
            return background.queue(key=key, name="tags.tagging", tag_id=found.pk, data=data)
        tagging = services.tagging_api_create(key=key, tag=found, data=data)
        return hal.hal_response(hal.tagging_document(request, tagging))
    no_filter(request)
    page, per_page = page_or_400(request)
    result = paginate(
        selectors.api_taggings(key, found),
        page=page,
        per_page=per_page,
        cache_scope=f"taggings|{found.pk}|{selectors.api_scope_fingerprint(key)}",
    )
    items = [hal.tagging_document(request, t) for t in result.rows]
    return hal.hal_response(
        hal.collection_document(
            request,
            page=result,
            rel="osdi:taggings",
            items=items,
            url_name="taggings",
            tag_id=found.pk,
        )
    )


@endpoint(methods=("GET", "DELETE"), resource="tags")
def tagging(request, key, tag_id, tagging_id):
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    found = selectors.api_tagging(key, selectors.api_tag(tag_id), tagging_id)
    if request.method == "DELETE":
        services.tagging_api_delete(key=key, tagging=found)
        return hal.hal_response({"notice": _("This tagging was successfully deleted.")})
    return hal.hal_response(hal.tagging_document(request, found))


TAGGING_FILTER_FIELDS: dict = {}


@endpoint(methods=("GET",), resource="tags")
def person_taggings(request, key, person_id):
    """A person's taggings (Action Network's ``/people/{id}/taggings``); each links its
    tag and the person. Like a tag's taggings it needs both the tags and people
    resources."""
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    found = selectors.api_person(key, person_id)
    no_filter(request)
    return collection_response(
        request,
        key,
        selectors.api_person_taggings(found),
        filters=TAGGING_FILTER_FIELDS,
        scope=f"person_taggings|{found.pk}",
        rel="osdi:taggings",
        url_name="person_taggings",
        build=hal.tagging_document,
        person_id=found.pk,
    )


@endpoint(methods=("GET", "DELETE"), resource="tags")
def person_tagging(request, key, person_id, tagging_id):
    """One of a person's taggings; ``DELETE`` removes the tag from the person, as
    ``DELETE /tags/{id}/taggings/{id}`` does."""
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    found = selectors.api_person_tagging(selectors.api_person(key, person_id), tagging_id)
    if request.method == "DELETE":
        services.tagging_api_delete(key=key, tagging=found)
        return hal.hal_response({"notice": _("This tagging was successfully deleted.")})
    return hal.hal_response(hal.tagging_document(request, found))


# --- Lists and their items, queries (saved segments), metadata ------------------------


def _collection(request, *, qs, cache_scope: str, rel: str, url_name: str, document, **kwargs):
    no_filter(request)
    page, per_page = page_or_400(request)
    result = paginate(qs, page=page, per_page=per_page, cache_scope=cache_scope)
    items = [document(request, row) for row in result.rows]
    return hal.hal_response(
        hal.collection_document(
            request, page=result, rel=rel, items=items, url_name=url_name, **kwargs
        )
    )


@endpoint(methods=("GET",), resource="people")
def lists(request, key):
    return _collection(
        request,
        qs=selectors.api_lists(),
        cache_scope="lists",
        rel="osdi:lists",
        url_name="lists",
        document=documents.list_document,
    )


@endpoint(methods=("GET",), resource="people")
def person_list(request, key, list_id):
    return hal.hal_response(documents.list_document(request, selectors.api_list(list_id)))


@endpoint(methods=("GET",), resource="people")
def list_items(request, key, list_id):
    found = selectors.api_list(list_id)
    return _collection(
        request,
        qs=selectors.api_list_items(key, found),
        cache_scope=f"items|{found.pk}|{selectors.api_scope_fingerprint(key)}",
        rel="osdi:items",
        url_name="list_items",
        document=documents.item_document,
        list_id=found.pk,
    )


@endpoint(methods=("GET",), resource="people")
def list_item(request, key, list_id, item_id):
    item = selectors.api_list_item(key, selectors.api_list(list_id), item_id)
    return hal.hal_response(documents.item_document(request, item))


@endpoint(methods=("GET",), resource="people")
def queries(request, key):
    return _collection(
        request,
        qs=selectors.api_segments(key),
        cache_scope=f"queries|{selectors.api_scope_fingerprint(key)}",
        rel="osdi:queries",
        url_name="queries",
        document=documents.query_document,
    )


@endpoint(methods=("GET",), resource="people")
def query(request, key, query_id):
    return hal.hal_response(documents.query_document(request, selectors.api_segment(key, query_id)))


@endpoint(methods=("GET",))
def metadata(request, key):
    return hal.hal_response(documents.metadata_document(request))


@endpoint(methods=("GET",))
def custom_fields(request, key):
    return hal.hal_response(
        documents.custom_fields_document(request, selectors.api_custom_fields())
    )


def supported_collections() -> list[str]:
    """The first path segment of every resource the API serves, read from its URLconf
    (so resources other apps mount are listed too)."""
    from . import urls

    names: set[str] = set()
    for pattern in urls.urlpatterns:
        if not isinstance(pattern, URLPattern) or pattern.name in ("entry", "unsupported"):
            continue
        match = re.match(r"\^?([a-z_]+)", str(pattern.pattern))
        if match:
            names.add(match.group(1))
    return sorted(names)


@csrf_exempt
def unsupported(request, rest):
    """Everything else under /api/v2/: resources Clarion does not offer, such as
    Action Network's campaigns (Clarion has no campaign records), event campaigns
    or wrappers. Answered as a 404 with a JSON error that says so."""
    name = rest.strip("/").split("/", 1)[0][:50]
    supported = supported_collections()
    if name in supported:
        message = _("There is no such address under the %(name)s resource.") % {"name": name}
    else:
        message = _(
            "Clarion's API does not support the resource %(name)s. The resources it offers "
            "are listed in supported."
        ) % {"name": name}
    return hal.error_response(404, message, extra={"supported": supported})
