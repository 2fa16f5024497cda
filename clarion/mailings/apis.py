"""Action Network v2 / OSDI API endpoints for the mailings app (mounted under /api/v2/).

Action Network's *messages* are Clarion's mailings:

- ``GET/POST /messages``, ``GET/PUT /messages/{id}``: compose a draft (or change a
  draft or scheduled mailing) through ``services.mailing_save``;
- ``POST /messages/{id}/schedule`` (``scheduled_start_date`` in the JSON body or, as
  Parsons sends it, in the query string) and ``POST /messages/{id}/send`` start it
  through ``services.mailing_send``, the same service, with the same checks
  (``mailing_problems``), as the staff page; ``DELETE /messages/{id}/send`` pauses a
  mailing mid-send (Action Network's "stopped").

``targets`` holds at most one link: a list (``/lists/{id}``, a ``PersonList``) or a
query (``/queries/{id}``, a saved ``Segment`` the key may use). Clarion cannot send to
the union of several, so more than one target is refused rather than narrowed.

Scope (invariant 4): a key reaches the mailings its owner may see on the staff pages,
narrowed to the key's area when it has one. A mailing made through a key takes the
key's area when the key is narrower than its owner, and a send goes only to people in
both the owner's scope and the mailing's area (``recipients_query``), so a key never
mails anyone outside its area.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.urls import re_path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from clarion.api import hal
from clarion.api import selectors as api_selectors
from clarion.api.errors import ApiError
from clarion.api.models import ApiKey
from clarion.api.views import collection_response, endpoint, json_body, no_filter
from clarion.areas.selectors import area_subtree_q

from . import selectors, services
from .models import Mailing
from .sending import render

STATUS_OUT = {
    Mailing.Status.DRAFT: "draft",
    Mailing.Status.SCHEDULED: "scheduled",
    Mailing.Status.SENDING: "sending",
    Mailing.Status.TESTING: "sending",
    Mailing.Status.PAUSED: "stopped",
    Mailing.Status.SENT: "sent",
    Mailing.Status.CANCELLED: "stopped",
}
# Fields a client may send back unchanged from a GET; they are computed here.
READ_ONLY = {
    "identifiers",
    "origin_system",
    "created_date",
    "modified_date",
    "type",
    "status",
    "total_targeted",
    "statistics",
    "administrative_url",
    "browser_url",
    "scheduled_start_date",
    "sent_start_date",
    "sent_end_date",
    "_links",
    "_embedded",
}
WRITABLE = {"name", "subject", "body", "from", "reply_to", "targets", "from_email"}
TARGET_RE = re.compile(r"/(lists|queries)/([^/?#]+)/?(?:[?#].*)?$")


# --- reads ---------------------------------------------------------------------------


def api_mailings(key: ApiKey) -> QuerySet[Mailing]:
    """The mailings ``key`` reaches: those its owner sees on the staff pages, and for a
    key narrowed to an area only those made inside it."""
    qs = selectors.mailings_for(key.owner)
    if key.area_id:
        qs = qs.filter(area_subtree_q(key.area, field="area"))
    return qs.select_related("segment", "person_list", "area")


def api_mailing(key: ApiKey, message_id) -> Mailing:
    pk = api_selectors.int_id(message_id)
    found = api_mailings(key).filter(pk=pk).first() if pk else None
    if found is None:
        raise ApiError(
            404, _("Couldn't find message with id = %(id)s") % {"id": str(message_id)[:50]}
        )
    return found


def _statistics(mailing: Mailing) -> dict[str, int]:
    if mailing.frozen_at is None:
        return dict.fromkeys(
            ("sent", "opened", "clicked", "actions", "unsubscribed", "bounced", "spam_reports"), 0
        )
    total = selectors.mailing_report(mailing)["total"]
    return {
        "sent": total["sent"],
        "opened": total["opens"],
        "clicked": total["clicks"],
        "actions": total["actions"],
        "unsubscribed": total["unsubscribes"],
        "bounced": total["bounced"],
        "spam_reports": total["complaints"],
    }


def _total_targeted(key: ApiKey, mailing: Mailing) -> int:
    if mailing.frozen_at is not None:
        return mailing.recipient_count
    if not (mailing.segment_id or mailing.person_list_id):
        return 0
    return selectors.recipient_count(mailing, key.owner)


def message_document(request, key: ApiKey, mailing: Mailing) -> dict:
    targets = []
    if mailing.segment_id:
        targets.append({"href": hal.absolute(request, "query", query_id=mailing.segment_id)})
    if mailing.person_list_id:
        targets.append({"href": hal.absolute(request, "list", list_id=mailing.person_list_id)})
    doc: dict[str, Any] = {
        "identifiers": hal.identifiers(mailing.pk),
        "origin_system": "Clarion",
        "created_date": hal.iso(mailing.created_at),
        "modified_date": hal.iso(mailing.modified_at),
        "name": mailing.name,
        "subject": mailing.subject,
        "body": mailing.body,
        "from": mailing.from_name,
        "reply_to": mailing.reply_to or mailing.from_email,
        "from_email": mailing.from_email,
        "type": "email",
        "targets": targets,
        "total_targeted": _total_targeted(key, mailing),
        "status": STATUS_OUT.get(mailing.status, "draft"),
        "statistics": _statistics(mailing),
    }
    if mailing.status == Mailing.Status.SCHEDULED and mailing.scheduled_at:
        doc["scheduled_start_date"] = hal.iso(mailing.scheduled_at)
    if mailing.started_at:
        doc["sent_start_date"] = hal.iso(mailing.started_at)
    if mailing.finished_at and mailing.status == Mailing.Status.SENT:
        doc["sent_end_date"] = hal.iso(mailing.finished_at)
    doc["_links"] = {
        "self": {"href": hal.absolute(request, "message", message_id=mailing.pk)},
        "osdi:send_helper": {"href": hal.absolute(request, "message_send", message_id=mailing.pk)},
        "osdi:schedule_helper": {
            "href": hal.absolute(request, "message_schedule", message_id=mailing.pk)
        },
        "curies": hal.CURIES,
    }
    return doc


# --- reading payloads ------------------------------------------------------------------


def _text(data: dict, field: str, *, max_length: int, required: bool) -> str | None:
    if field not in data or data[field] is None:
        if required:
            raise ApiError(400, _("Give the message a %(field)s.") % {"field": field})
        return None
    value = data[field]
    if not isinstance(value, str):
        raise ApiError(400, _("%(field)s must be text.") % {"field": field})
    value = value.strip()
    if required and not value:
        raise ApiError(400, _("Give the message a %(field)s.") % {"field": field})
    if len(value) > max_length:
        raise ApiError(
            400,
            _("%(field)s can be at most %(n)s characters.") % {"field": field, "n": max_length},
        )
    return value


def _email(data: dict, field: str) -> str | None:
    value = _text(data, field, max_length=254, required=False)
    if value:
        try:
            validate_email(value)
        except Exception:
            raise ApiError(
                400, _("%(field)s must be an email address.") % {"field": field}
            ) from None
    return value


def _template(value: str | None, field: str) -> None:
    if value:
        problems = render.template_problems(value)
        if problems:
            raise ApiError(400, f"{field}: " + " ".join(str(p) for p in problems))


def _targets(key: ApiKey, value: Any) -> dict[str, Any]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ApiError(400, _("targets must be a list of objects with an href."))
    if len(value) > 1:
        raise ApiError(
            400,
            _(
                "Clarion sends a message to one list or one query; give at most one target "
                "(combine people in a saved segment instead)."
            ),
        )
    out: dict[str, Any] = {"segment": None, "person_list": None}
    for target in value:
        href = target.get("href")
        match = TARGET_RE.search(href) if isinstance(href, str) else None
        if match is None:
            raise ApiError(400, _("A target's href must point to a list or a query of this API."))
        kind, ident = match.groups()
        try:
            if kind == "lists":
                if not key.allows("people"):
                    raise ApiError(403, _("This API key may not use people."))
                out["person_list"] = api_selectors.api_list(ident)
            else:
                out["segment"] = api_selectors.api_segment(key, ident)
        except ApiError as exc:
            if exc.status == 404:
                raise ApiError(400, _("targets: %(error)s") % {"error": exc.message}) from None
            raise
    return out


def _message_fields(key: ApiKey, data: dict, *, creating: bool) -> dict[str, Any]:
    unknown = sorted(set(data) - WRITABLE - READ_ONLY)
    if unknown:
        raise ApiError(
            400, _("Unknown message fields: %(names)s.") % {"names": ", ".join(unknown[:10])}
        )
    if "type" in data and data["type"] not in ("email", None):
        raise ApiError(400, _("Clarion sends email messages only (type email)."))
    fields: dict[str, Any] = {}
    subject = _text(data, "subject", max_length=250, required=creating)
    body = _text(data, "body", max_length=500_000, required=creating)
    from_name = _text(data, "from", max_length=100, required=creating)
    name = _text(data, "name", max_length=150, required=False)
    _template(subject, "subject")
    _template(body, "body")
    if subject is not None:
        fields["subject"] = subject
    if body is not None:
        fields["body"] = body
        fields["body_format"] = Mailing.BodyFormat.HTML
    if from_name is not None:
        fields["from_name"] = from_name
    if name:
        fields["name"] = name
    elif creating:
        fields["name"] = (subject or "")[:150]
    reply_to = _email(data, "reply_to")
    if reply_to is not None:
        fields["reply_to"] = reply_to
    from_email = _email(data, "from_email")
    if from_email:
        fields["from_email"] = from_email
    if "targets" in data:
        fields.update(_targets(key, data["targets"]))
    return fields


def _scheduled_start(request) -> datetime.datetime:
    raw: Any = None
    if request.body and request.body.strip():
        raw = json_body(request).get("scheduled_start_date")
    if raw in (None, ""):
        raw = request.GET.get("scheduled_start_date")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, _("Give scheduled_start_date, a UTC time like 2030-03-14T12:00:00Z."))
    try:
        when = parse_datetime(raw.strip())
    except ValueError:
        when = None
    if when is None:
        raise ApiError(
            400,
            _("scheduled_start_date %(value)s is not a time like 2030-03-14T12:00:00Z.")
            % {"value": raw[:40]},
        )
    if timezone.is_naive(when):
        when = when.replace(tzinfo=datetime.UTC)
    if when <= timezone.now():
        raise ApiError(400, _("scheduled_start_date must be in the future."))
    return when


# --- writes ------------------------------------------------------------------------------


def _area_for(key: ApiKey):
    """The area a mailing made through ``key`` belongs to: the key's own when it has
    one (always inside its owner's), else the owner's scope (None: national)."""
    return key.area if key.area_id else key.owner.scope_area


def _default_from_email(key: ApiKey, area) -> str:
    """As on the staff composer: an area's mailing comes from an address allowed for
    the area; a national one from its author's address."""
    if area is None:
        return key.owner.email
    allowed = selectors.from_addresses_for_area(area).order_by("pk").first()
    if allowed is None:
        raise ApiError(
            400,
            _(
                "No from address is allowed for this area yet; an administrator sets the "
                "addresses each area may use."
            ),
        )
    return allowed.email


def message_create(*, key: ApiKey, data: dict) -> Mailing:
    fields = _message_fields(key, data, creating=True)
    area = _area_for(key)
    if "from_email" not in fields:
        fields["from_email"] = _default_from_email(key, area)
    elif not selectors.from_address_allowed(area=area, email=fields["from_email"]):
        raise ApiError(
            400,
            _(
                "That from address is not allowed for this area. An administrator sets the "
                "addresses each area may use."
            ),
        )
    with transaction.atomic():
        mailing = services.mailing_save(mailing=Mailing(**fields), actor=key.owner)
        if key.area_id and mailing.area_id != key.area_id:
            # The key reaches less than its owner: the mailing belongs to the key's area,
            # so it is only ever sent inside it.
            Mailing.objects.filter(pk=mailing.pk).update(area=key.area)
            mailing.area = key.area
    return mailing


def message_update(*, key: ApiKey, mailing: Mailing, data: dict) -> Mailing:
    if not mailing.is_editable:
        raise ApiError(400, _("A message that has started sending cannot be changed."))
    for name, value in _message_fields(key, data, creating=False).items():
        setattr(mailing, name, value)
    return services.mailing_save(mailing=mailing, actor=key.owner)


# --- views -------------------------------------------------------------------------------

# Messages cannot be filtered (``no_filter`` refuses ``filter=``).
MESSAGE_FILTER_FIELDS: dict = {}


@endpoint(methods=("GET", "POST"), resource="messages")
def messages(request, key):
    if request.method == "POST":
        mailing = message_create(key=key, data=json_body(request))
        return hal.hal_response(message_document(request, key, api_mailing(key, mailing.pk)))
    no_filter(request)
    return collection_response(
        request,
        key,
        api_mailings(key),
        filters=MESSAGE_FILTER_FIELDS,
        scope="messages",
        rel="osdi:messages",
        url_name="messages",
        build=lambda request, mailing: message_document(request, key, mailing),
    )


@endpoint(methods=("GET", "PUT"), resource="messages")
def message(request, key, message_id):
    found = api_mailing(key, message_id)
    if request.method == "PUT":
        found = message_update(key=key, mailing=found, data=json_body(request))
        found = api_mailing(key, found.pk)
    return hal.hal_response(message_document(request, key, found))


@endpoint(methods=("POST",), resource="messages")
def message_schedule(request, key, message_id):
    found = api_mailing(key, message_id)
    when = _scheduled_start(request)
    services.mailing_send(mailing=found, actor=key.owner, when=when)
    return hal.hal_response({"message": _("Your message has been scheduled")})


@endpoint(methods=("POST", "DELETE"), resource="messages")
def message_send(request, key, message_id):
    found = api_mailing(key, message_id)
    if request.body and request.body.strip():
        json_body(request)  # the helper takes no fields, but the body must be JSON
    if request.method == "DELETE":
        if not services.mailing_pause(mailing=found, actor=key.owner):
            raise ApiError(400, _("This message is not sending, so it cannot be stopped."))
        return hal.hal_response({"message": _("Your email has been stopped.")})
    services.mailing_send(mailing=found, actor=key.owner)
    return hal.hal_response({"message": _("Your email has been sent.")})


urlpatterns = [
    re_path(r"^messages/?$", messages, name="messages"),
    re_path(r"^messages/(?P<message_id>[^/]+)/?$", message, name="message"),
    re_path(
        r"^messages/(?P<message_id>[^/]+)/schedule/?$", message_schedule, name="message_schedule"
    ),
    re_path(r"^messages/(?P<message_id>[^/]+)/send/?$", message_send, name="message_send"),
]
