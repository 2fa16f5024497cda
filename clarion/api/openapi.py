"""The OpenAPI 3.0 document of the API, served at /api/v2/openapi.json.

Paths are read from ``clarion.api.urls`` when the document is asked for, so a
collection added by any app is listed without touching this file; resource shapes
follow Action Network's v2 documentation (OSDI field names). A path whose resource
has no schema here is still listed, with a generic HAL object as its answer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings
from django.http import JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver
from django.views.decorators.http import require_GET

from . import person_extras

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
SKIPPED_NAMES = {"unsupported", "openapi"}

# Action Network's plural collection names and the resource each holds.
SINGULAR = {
    "people": "person",
    "tags": "tag",
    "taggings": "tagging",
    "petitions": "petition",
    "signatures": "signature",
    "forms": "form",
    "submissions": "submission",
    "events": "event",
    "attendances": "attendance",
    "fundraising_pages": "fundraising_page",
    "donations": "donation",
    "messages": "message",
    "lists": "list",
    "items": "item",
    "metadata": "metadata",
    "custom_fields": "custom_field",
    "campaigns": "campaign",
    "event_campaigns": "event_campaign",
    "advocacy_campaigns": "advocacy_campaign",
    "outreaches": "outreach",
    "queries": "query",
    "wrappers": "wrapper",
    "surveys": "survey",
    "responses": "response",
}
# Collections Action Network embeds under its own curie rather than osdi's.
EMBED_CURIE = {"surveys": "action_network", "responses": "action_network"}


# --- schemas ------------------------------------------------------------------------


def _s(kind: str, **extra) -> dict:
    return {"type": kind, **extra}


def _n(kind: str, **extra) -> dict:
    """A value that may be null."""
    return {"type": kind, "nullable": True, **extra}


STR, NSTR, INT, NUM, BOOL = _s("string"), _n("string"), _s("integer"), _s("number"), _s("boolean")
DATE = _n("string", description="ISO 8601 UTC, e.g. 2014-03-18T22:25:31Z")
LINK = {
    "type": "object",
    "properties": {"href": STR, "title": STR, "templated": BOOL},
    "required": ["href"],
}
LINKS = {
    "type": "object",
    "additionalProperties": {"oneOf": [LINK, {"type": "array", "items": LINK}]},
}
COMMON = {
    "identifiers": _s("array", items=STR),
    "created_date": DATE,
    "modified_date": DATE,
    "_links": LINKS,
}
BROWSER = {
    "title": NSTR,
    "name": NSTR,
    "description": NSTR,
    "browser_url": NSTR,
    "featured_image_url": NSTR,
    "origin_system": NSTR,
}
ADDRESS = {
    "type": "object",
    "properties": {
        "primary": BOOL,
        "address_lines": _s("array", items=STR),
        "locality": NSTR,
        "region": NSTR,
        "postal_code": NSTR,
        "country": NSTR,
        "venue": NSTR,
        "location": {
            "type": "object",
            "nullable": True,
            "properties": {"latitude": _n("number"), "longitude": _n("number"), "accuracy": NSTR},
        },
    },
}
PERSON_FIELDS = {
    "given_name": NSTR,
    "family_name": NSTR,
    "languages_spoken": _s("array", items=STR),
    "email_addresses": _s(
        "array",
        items={
            "type": "object",
            "properties": {"primary": BOOL, "address": STR, "status": STR},
        },
    ),
    "phone_numbers": _s(
        "array",
        items={
            "type": "object",
            "properties": {"primary": BOOL, "number": STR, "number_type": NSTR, "status": NSTR},
        },
    ),
    "postal_addresses": _s("array", items=ADDRESS),
    "custom_fields": _s("object"),
}
HELPER_FIELDS = {
    "person": {"type": "object", "properties": PERSON_FIELDS},
    "add_tags": _s("array", items=STR),
}


def _resource(fields: dict, required=("identifiers", "_links")) -> dict:
    return {"type": "object", "properties": {**COMMON, **fields}, "required": list(required)}


RESOURCES: dict[str, dict] = {
    "person": _resource(PERSON_FIELDS),
    "tag": _resource({"name": STR}, required=("identifiers", "name", "_links")),
    "tagging": _resource({"item_type": STR}),
    "petition": _resource(
        {
            **BROWSER,
            "petition_text": NSTR,
            "total_signatures": INT,
            "target": _s("array", items=_s("object")),
        }
    ),
    "signature": _resource({"comments": NSTR, **HELPER_FIELDS}),
    "form": _resource({**BROWSER, "call_to_action": NSTR, "total_submissions": INT}),
    "submission": _resource(HELPER_FIELDS),
    "event": _resource(
        {
            **BROWSER,
            "instructions": NSTR,
            "start_date": DATE,
            "end_date": DATE,
            "status": NSTR,
            "visibility": NSTR,
            "capacity": _n("integer"),
            "total_accepted": INT,
            "guests_can_invite_others": BOOL,
            "transparence": NSTR,
            "location": {**ADDRESS, "nullable": True},
        }
    ),
    "attendance": _resource({"status": NSTR, **HELPER_FIELDS}),
    "fundraising_page": _resource(
        {
            **BROWSER,
            "total_donations": INT,
            "total_amount": STR,
            "currency": NSTR,
        }
    ),
    "donation": _resource(
        {
            "currency": NSTR,
            "amount": STR,
            "recipients": _s(
                "array",
                items={
                    "type": "object",
                    "properties": {"display_name": NSTR, "amount": STR},
                },
            ),
            "payment": {
                "type": "object",
                "properties": {
                    "method": NSTR,
                    "reference_number": NSTR,
                    "authorization_stored": BOOL,
                },
            },
            "action_network:recurrence": {
                "type": "object",
                "properties": {
                    "recurring": BOOL,
                    "period": NSTR,
                },
            },
            **HELPER_FIELDS,
        }
    ),
    "message": _resource(
        {
            "subject": NSTR,
            "body": NSTR,
            "from": NSTR,
            "reply_to": NSTR,
            "status": NSTR,
            "total_targeted": _n("integer"),
            "sent_start_date": DATE,
            "administrative_url": NSTR,
            "type": NSTR,
            "targets": _s("array", items=_s("object")),
            "statistics": _s("object"),
        }
    ),
    "advocacy_campaign": _resource(
        {
            **BROWSER,
            "summary": NSTR,
            "type": NSTR,
            "total_outreaches": INT,
            "targets": _s("array", items=_s("object")),
        }
    ),
    "outreach": _resource(
        {
            "type": NSTR,
            "subject": NSTR,
            "message": NSTR,
            "status": NSTR,
            "targets": _s("array", items=_s("object")),
            **HELPER_FIELDS,
        }
    ),
    "survey": _resource(
        {
            **BROWSER,
            "call_to_action": NSTR,
            "total_responses": INT,
            "clarion:questions": _s("array", items=_s("object")),
        }
    ),
    "response": _resource({"status": NSTR, "clarion:answers": _s("object")}),
    "list": _resource({**BROWSER}),
    "item": _resource({"item_type": STR}),
    "metadata": {
        "type": "object",
        "properties": {
            "name": NSTR,
            "action_network:custom_fields": _s(
                "array",
                items={
                    "type": "object",
                    "properties": {"name": STR, "created_date": DATE, "modified_date": DATE},
                },
            ),
            "_links": LINKS,
        },
    },
    "custom_field": {"type": "object", "properties": {"name": NSTR, **COMMON}},
}
ERROR = {
    "type": "object",
    "properties": {"error": STR},
    "required": ["error"],
    "description": "Every answer other than success: what is wrong, in words.",
}
NOTICE = {"type": "object", "properties": {"notice": STR}}
GENERIC = {"type": "object", "properties": {"_links": LINKS}}
ENTRY = {
    "type": "object",
    "properties": {
        "motd": STR,
        "vendor_name": STR,
        "product_name": STR,
        "osdi_version": STR,
        "max_pagesize": INT,
        "namespace": STR,
        "_links": LINKS,
    },
    "required": ["_links"],
}


def resources() -> dict[str, dict]:
    """``RESOURCES`` with the extra person fields other apps registered
    (``person_extras``, e.g. ``clarion:membership``)."""
    extras = {extra.name: extra.schema or {"type": "object"} for extra in person_extras.fields()}
    return {**RESOURCES, "person": _resource({**PERSON_FIELDS, **extras})}


def _collection_schema(plural: str, item_ref: str) -> dict:
    return {
        "type": "object",
        "properties": {
            "total_pages": INT,
            "per_page": INT,
            "page": INT,
            "total_records": INT,
            "_links": LINKS,
            "_embedded": {
                "type": "object",
                "properties": {
                    f"{EMBED_CURIE.get(plural, 'osdi')}:{plural}": {
                        "type": "array",
                        "items": {"$ref": item_ref},
                    }
                },
            },
        },
        "required": ["_links", "_embedded"],
    }


# --- URLconf introspection ----------------------------------------------------------

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _route_to_path(regex: str) -> str:
    path = regex.lstrip("^").rstrip("$")
    path = path.replace("/?", "").replace("\\.", ".")
    path = _GROUP.sub(lambda m: "{" + m.group(1) + "}", path)
    return path.rstrip("/")


def _methods(view) -> list[str]:
    """The methods an ``endpoint``-wrapped view answers: the ``allowed`` set it closes over."""
    seen = 0
    fn = view
    while fn is not None and seen < 6:
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if (
                isinstance(value, set | frozenset | tuple)
                and value
                and all(isinstance(v, str) and v in (*HTTP_METHODS, "HEAD") for v in value)
            ):
                return [m for m in HTTP_METHODS if m in value]
        fn = getattr(fn, "__wrapped__", None)
        seen += 1
    return ["GET"]


def api_routes() -> list[tuple[str, str, object]]:
    """(path under /api/v2, url name, view) for every named pattern of the api namespace."""
    resolver = get_resolver()
    api = next(
        p
        for p in resolver.url_patterns
        if isinstance(p, URLResolver) and getattr(p, "namespace", None) == "api"
    )
    prefix = "/" + str(api.pattern).lstrip("^").rstrip("$")
    routes = []
    for pattern in api.url_patterns:
        if not isinstance(pattern, URLPattern) or pattern.name in SKIPPED_NAMES:
            continue
        sub = _route_to_path(str(pattern.pattern))
        path = (prefix.rstrip("/") + "/" + sub) if sub else prefix
        routes.append((path, pattern.name, pattern.callback))
    return routes


def _resource_for(path: str) -> tuple[str | None, str | None, bool]:
    """(plural, singular, is_collection) judged from the path's last literal segment."""
    parts = [p for p in path.split("/") if p]
    is_item = bool(parts) and parts[-1].startswith("{")
    literals = [p for p in parts if not p.startswith("{")]
    plural = literals[-1] if literals else None
    if plural in ("v2", "api"):
        return None, None, False
    singular = SINGULAR.get(plural or "")
    if "metadata" in literals:
        # /metadata and /metadata/custom_fields are single documents, not collections.
        return "metadata", "metadata", False
    return plural, singular, not is_item


PAGE_PARAMS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 25}},
]
FILTER_PARAM = {
    "name": "filter",
    "in": "query",
    "description": "OData subset: eq ne gt ge lt le, and/or, e.g. email_address eq 'a@b.org'",
    "schema": {"type": "string"},
}


def _json(schema: dict) -> dict:
    return {"application/hal+json": {"schema": schema}}


def _errors(*codes: int) -> dict:
    text = {
        400: "Bad input",
        401: "No valid key",
        403: "The key may not do this",
        404: "Not found, or outside the key's scope",
        405: "Method not supported here",
        409: "Conflict",
        413: "Body too large",
        429: "Too many requests (see Retry-After)",
    }
    return {
        str(code): {
            "description": text[code],
            "content": _json({"$ref": "#/components/schemas/error"}),
        }
        for code in codes
    }


def _operation(method: str, path: str, name: str) -> dict:
    plural, singular, is_collection = _resource_for(path)
    ref = f"#/components/schemas/{singular}" if singular in RESOURCES else None
    item = {"$ref": ref} if ref else GENERIC
    params = [
        {"name": m.group(1), "in": "path", "required": True, "schema": {"type": "string"}}
        for m in re.finditer(r"\{(\w+)\}", path)
    ]
    op: dict = {"operationId": f"{method.lower()}_{name}", "tags": [plural or "entry"]}
    ok: dict
    if plural is None:
        ok = {"200": {"description": "The API entry point", "content": _json(ENTRY)}}
    elif method == "GET" and is_collection and ref:
        params += [*PAGE_PARAMS, FILTER_PARAM]
        ok = {
            "200": {
                "description": f"A page of {plural}",
                "content": _json(_collection_schema(plural, ref)),
            }
        }
    elif method == "GET" and is_collection:
        params += PAGE_PARAMS
        ok = {"200": {"description": f"A page of {plural}", "content": _json(GENERIC)}}
    elif method == "DELETE":
        ok = {"200": {"description": "Deleted", "content": _json(NOTICE)}}
    else:
        ok = {"200": {"description": singular or "resource", "content": _json(item)}}
        if method in ("POST", "PUT"):
            # With background_processing=true the write is queued and the answer is an
            # empty object, as Action Network answers.
            queued = {"anyOf": [item, {"type": "object", "maxProperties": 0}]}
            ok["200"] = {
                "description": f"{singular or 'resource'}, or {{}} when queued",
                "content": _json(queued),
            }
        if method == "POST":
            ok["201"] = {"description": "Created", "content": _json(item)}
    if method in ("POST", "PUT", "PATCH"):
        props = dict((resources().get(singular or "") or {}).get("properties", {}))
        for key in ("identifiers", "_links", "created_date", "modified_date"):
            props.pop(key, None)
        if method == "POST" and singular in (
            "person",
            "signature",
            "submission",
            "attendance",
            "donation",
            "outreach",
        ):
            props.update(HELPER_FIELDS)
            if singular == "person":
                props["person"] = {
                    "type": "object",
                    "properties": resources()["person"]["properties"],
                }
            props["remove_tags"] = _s("array", items=STR)
        props.setdefault("identifiers", _s("array", items=STR))
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "properties": props}}},
        }
        if method in ("POST", "PUT"):
            params.append(
                {
                    "name": "background_processing",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                }
            )
    if params:
        op["parameters"] = params
    op["responses"] = {**ok, **_errors(400, 401, 403, 404, 405, 409, 413, 429)}
    return op


@lru_cache(maxsize=1)
def _document_cached(site_url: str) -> dict:
    paths: dict[str, dict] = {}
    for path, name, view in api_routes():
        ops = paths.setdefault(path, {})
        for method in _methods(view):
            ops.setdefault(method.lower(), _operation(method, path, name))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Clarion API (Action Network v2 / OSDI compatible)",
            "version": "2",
            "description": (
                "HAL+JSON, Action Network's v2 field names and link relations. "
                "Send an API key in the OSDI-API-Token header. Collections page with "
                "page and per_page (at most 25)."
            ),
        },
        "servers": [{"url": site_url}],
        "security": [{"OSDI-API-Token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "OSDI-API-Token": {"type": "apiKey", "in": "header", "name": "OSDI-API-Token"}
            },
            "schemas": {**resources(), "error": ERROR},
        },
    }


def document() -> dict:
    return _document_cached(settings.SITE_URL)


@require_GET
def openapi_view(request):
    """The document; no key is needed to read it (it describes, it does not reveal)."""
    response = JsonResponse(document(), json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response
