"""Reading request payloads and shared field shapes for the API's action resources
(events, attendances, fundraising pages, donations).

Some Action Network clients do not send a JSON body. Parsons 6.1.0 posts attendances,
fundraising pages and donations with the payload in the query string
(``requests``' ``params=``), and updates events with a form-encoded body under a JSON
content type. ``request_payload`` reads all three. A query string cannot carry nested
objects: ``requests`` sends only the keys of a nested object, so a value such as
``_links`` or ``person`` must then be JSON text (``json.dumps(...)``); such a value is
decoded here, and one that arrives without its contents is refused with a message
that says so.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from clarion.people.models import Person

from .errors import ApiError
from .jsonload import load_json
from .selectors import api_people, int_id
from .views import has_nul, json_body

# Query parameters that steer a request rather than describe the record.
CONTROL_PARAMS = {"background_processing", "page", "per_page", "filter"}
MAX_QUERY_FIELDS = 50


def _decode_value(value: str) -> Any:
    text = value.strip()
    if text[:1] in ("{", "["):
        return load_json(text, what=_("A parameter that starts with { or ["))
    return value


def request_payload(request) -> dict:
    """The JSON object the client sent, from the body or (for a body-less POST) the
    query string. Raises ApiError(400) for anything that is not an object."""
    body = request.body or b""
    if body.strip():
        if body.lstrip()[:1] in (b"{", b"["):
            return json_body(request)
        # A form-encoded body (Parsons' update_event) under whatever content type.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, _("The request body is not valid JSON.")) from None
        if "=" not in text:
            raise ApiError(400, _("The request body is not valid JSON."))
        form = QueryDict(text)
        data: dict[str, Any] = {k: _decode_value(form.getlist(k)[-1]) for k in form}
    else:
        params = [k for k in request.GET if k not in CONTROL_PARAMS]
        if not params:
            raise ApiError(400, _("The request body is empty; send a JSON object."))
        if len(params) > MAX_QUERY_FIELDS:
            raise ApiError(400, _("Too many parameters."))
        data = {}
        for name in params:
            values = request.GET.getlist(name)
            data[name] = _decode_value(values[-1]) if len(values) == 1 else values
    if has_nul(data):
        raise ApiError(
            400, _("Text in the request may not contain control characters such as NUL.")
        )
    return data


def nested(data: dict, name: str, *, many: bool = False) -> Any:
    """``data[name]`` where an object (``many``: a list of objects) is expected. Text
    there is what a query string makes of an object (only its keys), so the message
    says how to send it."""
    value = data.get(name)
    if value is None:
        return None
    if many and isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    if not many and isinstance(value, dict):
        return value
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        raise ApiError(
            400,
            _(
                "%(field)s arrived without its contents. Send the payload as a JSON body, or "
                "give %(field)s as JSON text when it travels in the query string."
            )
            % {"field": name},
        )
    if many:
        raise ApiError(400, _("%(field)s must be a list of objects.") % {"field": name})
    raise ApiError(400, _("%(field)s must be an object.") % {"field": name})


def linked_person(key, links: Any) -> Person:
    """The person an ``_links: {"osdi:person": {"href": ...}}`` object names, within the
    key's reach (404 otherwise)."""
    link = links.get("osdi:person") if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    if not isinstance(href, str):
        raise ApiError(400, _("_links must hold osdi:person with an href."))
    match = re.search(r"/people/([^/?#]+)/?(?:[?#].*)?$", href)
    pk = int_id(match.group(1)) if match else None
    person = api_people(key).filter(pk=pk).first() if pk else None
    if person is None:
        raise ApiError(404, _("Couldn't find the person the osdi:person link names."))
    return person


def when(value: Any, field: str) -> datetime.datetime | None:
    """An ISO date-time (``2014-03-25T10:00:00Z``, or ``2014-03-25 10:00:00`` as Parsons
    sends it); one without a zone is in the organisation's time zone."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ApiError(400, _("%(field)s must be a date and time as text.") % {"field": field})
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ApiError(
            400,
            _("%(field)s must be a date and time like 2026-03-25T18:00:00Z.") % {"field": field},
        )
    if not 1900 <= parsed.year <= 2200:
        raise ApiError(400, _("%(field)s must be between 1900 and 2200.") % {"field": field})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def text(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, _("%(field)s must be text.") % {"field": field})
    value = value.strip()
    if len(value) > limit:
        raise ApiError(
            400,
            _("%(field)s can be at most %(n)s characters.") % {"field": field, "n": limit},
        )
    return value


def unknown_fields(data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
