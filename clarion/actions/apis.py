"""Action Network v2 / OSDI API endpoints for the actions app (mounted under /api/v2/).

Resources and how they map onto action pages:

- ``petitions`` are action pages of kind petition; their ``signatures`` are the
  page's submissions.
- ``forms`` are action pages of kind sign-up form, survey or pledge (a pledge is
  signed like a form, with no target); their ``submissions`` are the page's
  submissions. Letter pages are not forms, and donation pages belong to the
  donations app.
- ``advocacy_campaigns`` are action pages of kind letter (Action Network keeps
  letters to a target as advocacy campaigns); their ``outreaches`` are the letters
  sent, recorded through the same service as a letter sent from the page.
- ``surveys`` are action pages of kind survey, served where Action Network serves
  surveys as well as among the forms; their ``responses`` are the page's submissions.

A page is read by any key whose reach covers it: national pages by every key, an
area's page by keys reaching that area. Signatures and submissions are people's
actions, so they need the ``people`` resource and list only the people the key
reaches (``api_people``, invariant 4): a key limited to the North never sees that
someone in the South signed, nor how many of them did beyond the page's public count.

Writes: a page made through the API is live at once (``action_network:hidden: true``
makes it a draft) and belongs to the key's area (national for a national key); a
key limited to an area changes only its area's pages. ``petition_text`` is the page
summary (300 characters at most), ``description`` its body, one ``target`` is kept.
The record helpers accept a person by ``_links`` → ``osdi:person`` or described in
``person`` (the person signup helper's matching and area checks), need an email
address (actions are kept once per mailbox), return 201 for a new action and 200
with the first one for a repeat, and send the page's usual emails. Each write
helper takes ``?background_processing=true`` (``clarion.api.background``).

The document builders (``petition_document``, ``form_document``, ``signature_document``,
``submission_document``) take ``request=None`` too: links are then made from
``settings.SITE_URL``, as a webhook payload built by a worker needs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from django.db import transaction
from django.urls import re_path, reverse
from django.utils.translation import gettext as _

from clarion.api import background, hal
from clarion.api import selectors as api_selectors
from clarion.api.errors import ApiError
from clarion.api.filters import filter_datetime, filter_text
from clarion.api.jsonload import load_json
from clarion.api.views import (
    collection_response,
    endpoint,
    has_nul,
    json_body,
)
from clarion.core.site import site_url

from . import selectors, services
from .models import ActionPage, Submission

PETITION_KINDS = (ActionPage.Kind.PETITION,)
FORM_KINDS = (ActionPage.Kind.SIGNUP, ActionPage.Kind.SURVEY, ActionPage.Kind.PLEDGE)
ORIGIN_SYSTEM = "Clarion"

PAGE_FILTER_FIELDS = {
    "created_date": ("created_at", filter_datetime, False),
    "modified_date": ("modified_at", filter_datetime, False),
    "title": ("title", filter_text, True),
}
SUBMISSION_FILTER_FIELDS = {
    "created_date": ("created_at", filter_datetime, False),
    "modified_date": ("modified_at", filter_datetime, False),
}

# Read-only fields a client may send back unchanged (Action Network documents echo them).
IGNORED_PAGE_FIELDS = {
    "identifiers",
    "origin_system",
    "created_date",
    "modified_date",
    "browser_url",
    "featured_image_url",
    "total_signatures",
    "total_submissions",
    "status",
    "_links",
    "_embedded",
    "action_network:sponsor",
}
PETITION_FIELDS = {
    "title",
    "description",
    "petition_text",
    "target",
    "action_network:hidden",
} | IGNORED_PAGE_FIELDS
FORM_FIELDS = {
    "title",
    "description",
    "call_to_action",
    "action_network:hidden",
} | IGNORED_PAGE_FIELDS
IGNORED_ACTION_FIELDS = {
    "identifiers",
    "origin_system",
    "created_date",
    "modified_date",
    "action_date",
    "referrer_data",
    "triggers",
    "_embedded",
    "action_network:person_id",
    "action_network:petition_id",
    "action_network:form_id",
    "status",
}
HELPER_FIELDS = {"person", "add_tags", "_links", "comments"} | IGNORED_ACTION_FIELDS


# --- Documents --------------------------------------------------------------------------


def _page_common(request, page: ActionPage, *, total: int | None) -> dict:
    if total is None:
        total = selectors.page_count_fresh(page)
    return {
        "identifiers": hal.identifiers(page.pk),
        "origin_system": ORIGIN_SYSTEM,
        "created_date": hal.iso(page.created_at),
        "modified_date": hal.iso(page.modified_at),
        "title": page.title,
        "description": page.body_html,
        "browser_url": _public_url(request, page),
        "featured_image_url": _image_url(request, page),
        "status": page.status,
        "action_network:hidden": page.status == ActionPage.Status.DRAFT,
        "_total": total,
    }


def _public_url(request, page: ActionPage) -> str:
    """The page's public address, on the host the client called (like every other link
    in the answer), or on ``settings.SITE_URL`` when there is no request."""
    if request is None:
        return selectors.page_public_url(page)
    return request.build_absolute_uri(reverse("actions:page", kwargs={"slug": page.slug}))


def _image_url(request, page: ActionPage) -> str | None:
    if not page.hero_image:
        return None
    url = page.hero_image.url
    if url.startswith(("http://", "https://")):
        return url
    if request is None:
        return site_url(url)
    return request.build_absolute_uri(url)


def petition_document(request, page: ActionPage, *, total: int | None = None) -> dict:
    """A petition in Action Network's shape. ``total`` is the counted signatures when
    the caller already has it (a listing counts all its pages in one query)."""
    doc = _page_common(request, page, total=_page_total(page, total))
    doc["total_signatures"] = doc.pop("_total")
    doc["petition_text"] = page.summary
    doc["target"] = [{"name": page.target_name}] if page.target_name else []
    doc["_links"] = {
        "self": {"href": hal.absolute(request, "petition", petition_id=page.pk)},
        "osdi:signatures": {"href": hal.absolute(request, "signatures", petition_id=page.pk)},
        "osdi:record_signature_helper": {
            "href": hal.absolute(request, "signatures", petition_id=page.pk)
        },
        "curies": hal.CURIES,
    }
    return doc


def form_document(request, page: ActionPage, *, total: int | None = None) -> dict:
    """A form (sign-up, survey or pledge page) in Action Network's shape."""
    doc = _page_common(request, page, total=_page_total(page, total))
    doc["total_submissions"] = doc.pop("_total")
    doc["call_to_action"] = page.button_label
    doc["_links"] = {
        "self": {"href": hal.absolute(request, "form", form_id=page.pk)},
        "osdi:submissions": {"href": hal.absolute(request, "submissions", form_id=page.pk)},
        "osdi:record_submission_helper": {
            "href": hal.absolute(request, "submissions", form_id=page.pk)
        },
        "curies": hal.CURIES,
    }
    return doc


def _action_common(submission: Submission) -> dict:
    modified = max(
        t
        for t in (submission.created_at, submission.confirmed_at, submission.invalidated_at)
        if t is not None
    )
    return {
        "identifiers": hal.identifiers(submission.pk),
        "origin_system": ORIGIN_SYSTEM,
        "created_date": hal.iso(submission.created_at),
        "modified_date": hal.iso(modified),
        "status": submission.status,
        "comments": submission.comment,
        "action_network:person_id": str(submission.person_id),
        "referrer_data": {
            "source": submission.source,
            "website": submission.referrer_domain,
        },
    }


def signature_document(request, submission: Submission) -> dict:
    """A submission on a petition as an Action Network signature. ``request`` may be
    None (links then start with ``settings.SITE_URL``). ``status`` is Clarion's own:
    confirmed (counted), pending (waiting for email confirmation) or invalid."""
    doc = _action_common(submission)
    doc["action_network:petition_id"] = str(submission.page_id)
    doc["_links"] = {
        "self": {
            "href": hal.absolute(
                request, "signature", petition_id=submission.page_id, signature_id=submission.pk
            )
        },
        "osdi:petition": {
            "href": hal.absolute(request, "petition", petition_id=submission.page_id)
        },
        "osdi:person": {"href": hal.absolute(request, "person", person_id=submission.person_id)},
        "curies": hal.CURIES,
    }
    return doc


def submission_document(request, submission: Submission) -> dict:
    """A submission on a form as an Action Network submission; ``request`` may be None.
    ``comments`` (not in Action Network's submissions) is the comment a Clarion form
    may ask for; ``status`` is as for signatures."""
    doc = _action_common(submission)
    doc["action_network:form_id"] = str(submission.page_id)
    doc["_links"] = {
        "self": {
            "href": hal.absolute(
                request, "submission", form_id=submission.page_id, submission_id=submission.pk
            )
        },
        "osdi:form": {"href": hal.absolute(request, "form", form_id=submission.page_id)},
        "osdi:person": {"href": hal.absolute(request, "person", person_id=submission.person_id)},
        "curies": hal.CURIES,
    }
    return doc


# --- Reading payloads ---------------------------------------------------------------------


def _payload(request) -> dict:
    """The JSON object the client sent. Parsons' ``create_form`` and
    ``create_signature`` send their payload as query parameters instead of a body, so
    an empty body falls back to the query string: flat parameters, or one
    JSON-encoded object (the only way nested fields such as ``person`` survive)."""
    if request.body:
        form = _form_encoded(request.body)
        return form if form is not None else json_body(request)
    text = unquote(request.META.get("QUERY_STRING", ""))
    if text.lstrip().startswith("{"):
        data = load_json(text, what=_("The query string"))
        if not isinstance(data, dict):
            raise ApiError(400, _("The request body must be a JSON object."))
    else:
        data = {k: v for k, v in request.GET.items() if k != "background_processing"}
        if not data:
            raise ApiError(400, _("The request body is empty; send a JSON object."))
    if has_nul(data):
        raise ApiError(
            400, _("Text in the request may not contain control characters such as NUL.")
        )
    return data


def _form_encoded(body: bytes) -> dict | None:
    """A body that is not JSON but ``a=b&c=d``: what Parsons' ``update_signature`` and
    ``update_form`` send (a dict given to requests as ``data``, still labelled JSON).
    None for anything else, which then must be JSON."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not text or text[0] in '{["' or "=" not in text:
        return None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    data = dict(pairs)
    if has_nul(data):
        raise ApiError(
            400, _("Text in the request may not contain control characters such as NUL.")
        )
    return data


def _text_field(data: dict, name: str, *, max_length: int | None = None) -> str:
    value = data[name]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, _("%(field)s must be text.") % {"field": name})
    value = value.strip()
    if max_length is not None and len(value) > max_length:
        raise ApiError(
            400,
            _("%(field)s can be at most %(n)s characters.") % {"field": name, "n": max_length},
        )
    return value


def _target_name(value) -> str:
    """Action Network's ``target`` is a list of ``{"name": ...}``; a plain name or one
    object is accepted too. Clarion keeps one target per page."""
    if value is None or value == [] or value == "":
        return ""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("name")
    if not isinstance(value, str):
        raise ApiError(400, _("target must be a list holding one object with a name."))
    name = value.strip()
    if len(name) > 200:
        raise ApiError(400, _("target can be at most 200 characters."))
    return name


def _page_fields(data: dict, *, allowed: set[str], create: bool, current: ActionPage | None):
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    fields: dict = {}
    if "title" in data:
        fields["title"] = _text_field(data, "title", max_length=200)
    if (create or "title" in fields) and not fields.get("title"):
        raise ApiError(
            400, _("Give the page a title."), extra={"errors": {"title": _("Required.")}}
        )
    if "description" in data:
        fields["body"] = _text_field(data, "description", max_length=100_000)
    if "petition_text" in data:
        fields["summary"] = _text_field(data, "petition_text", max_length=300)
    if "target" in data:
        fields["target_name"] = _target_name(data["target"])
    if "call_to_action" in data:
        fields["button_label"] = _text_field(data, "call_to_action", max_length=60)
    if "action_network:hidden" in data:
        hidden = data["action_network:hidden"]
        if not isinstance(hidden, bool):
            raise ApiError(400, _("action_network:hidden must be true or false."))
        if hidden:
            fields["status"] = ActionPage.Status.DRAFT
        elif current is None or current.status == ActionPage.Status.DRAFT:
            fields["status"] = ActionPage.Status.LIVE
    return fields


def _tag_list(data: dict) -> list[str]:
    value = data.get("add_tags")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, _("add_tags must be a list of tag names."))
    names = [v.strip() for v in value if v.strip()]
    if any(len(name) > 100 for name in names):
        raise ApiError(400, _("A tag name can be at most 100 characters."))
    return names[:100]


def _linked_person(key, data: dict):
    """The person named by ``_links`` → ``osdi:person`` (any host: Parsons links to
    actionnetwork.org), or None when there is no such link."""
    links = data.get("_links")
    if links is None:
        return None
    link = links.get("osdi:person") if isinstance(links, dict) else None
    href = link.get("href") if isinstance(link, dict) else None
    if not isinstance(href, str):
        raise ApiError(
            400,
            _(
                "_links must hold osdi:person with an href. Send the signature as a JSON "
                "body (or as one JSON-encoded query string)."
            ),
        )
    match = re.search(r"/people/([^/?#]+)/?(?:[?#].*)?$", href)
    return api_selectors.api_person(key, match.group(1) if match else "")


def _record_action(key, page: ActionPage, data: dict) -> tuple[Submission, bool]:
    """Action Network's record signature / submission helper: the person is named by
    ``_links`` or described by ``person`` (matched and created as the person signup
    helper does, refused with 403 outside the key's area); ``add_tags`` tag them.
    Returns (submission, created); nothing is written unless all of it succeeds."""
    from clarion.api import services as api_services

    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    unknown = sorted(set(data) - HELPER_FIELDS)
    if unknown:
        raise ApiError(400, _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    comment = _text_field(data, "comments", max_length=5000) if "comments" in data else ""
    tags = _tag_list(data)
    person = _linked_person(key, data)
    if person is None and data.get("person") is None:
        raise ApiError(
            400,
            _("Name the person with _links osdi:person, or describe them in person."),
        )
    with transaction.atomic():
        if person is None:
            person, _created = api_services.person_signup(key=key, data={"person": data["person"]})
        result = services.submission_api_record(
            page=page, person=person, comment=comment, tags=tags, actor=key.owner
        )
    return selectors.api_submission(key, page, result.submission.pk), not result.duplicate


# --- Background processing (?background_processing=true) ----------------------------------


@background.writer("actions.record", resource="people")
def _record_later(key, *, kinds: list[str], page_id: int, data: dict) -> None:
    _record_action(key, selectors.api_page(key, kinds, page_id), data)


@background.writer("actions.page_create")
def _create_later(key, *, kind: str, data: dict) -> None:
    _create_page(key, data, kind=kind)


@background.writer("actions.page_update")
def _update_later(key, *, kinds: list[str], page_id: int, data: dict) -> None:
    _update_page(key, selectors.api_page(key, kinds, page_id, write=True), data)


# --- Views --------------------------------------------------------------------------------


def _allowed_fields(kind: str) -> set[str]:
    return PETITION_FIELDS if kind in PETITION_KINDS else FORM_FIELDS


def _create_page(key, data: dict, *, kind: str) -> ActionPage:
    fields = _page_fields(data, allowed=_allowed_fields(kind), create=True, current=None)
    area = key.area or key.owner.scope_area
    return services.page_api_create(kind=kind, fields=fields, area=area, actor=key.owner)


def _update_page(key, page: ActionPage, data: dict) -> ActionPage:
    fields = _page_fields(data, allowed=_allowed_fields(page.kind), create=False, current=page)
    return services.page_api_update(page=page, fields=fields, actor=key.owner)


def _post_page(request, key, *, kind: str, build):
    data = _payload(request)
    if background.requested(request):
        return background.queue(key=key, name="actions.page_create", kind=kind, data=data)
    page = _create_page(key, data, kind=kind)
    return hal.hal_response(build(request, page, total=0), status=201)


def _put_page(request, key, page: ActionPage, *, kinds, build):
    data = _payload(request)
    if background.requested(request):
        return background.queue(
            key=key, name="actions.page_update", kinds=list(kinds), page_id=page.pk, data=data
        )
    page = _update_page(key, page, data)
    return hal.hal_response(build(request, page))


def _post_action(request, key, page: ActionPage, *, kinds, build):
    data = _payload(request)
    if background.requested(request):
        return background.queue(
            key=key, name="actions.record", kinds=list(kinds), page_id=page.pk, data=data
        )
    submission, created = _record_action(key, page, data)
    return hal.hal_response(build(request, submission), status=201 if created else 200)


@endpoint(methods=("GET", "POST"), resource="actions")
def petitions(request, key):
    if request.method == "POST":
        return _post_page(request, key, kind=ActionPage.Kind.PETITION, build=petition_document)
    return _pages(
        request,
        key,
        kinds=PETITION_KINDS,
        rel="osdi:petitions",
        url_name="petitions",
        build=petition_document,
    )


@endpoint(methods=("GET", "PUT"), resource="actions")
def petition(request, key, petition_id):
    page = selectors.api_page(key, PETITION_KINDS, petition_id, write=request.method == "PUT")
    if request.method == "PUT":
        return _put_page(request, key, page, kinds=PETITION_KINDS, build=petition_document)
    return hal.hal_response(petition_document(request, page))


@endpoint(methods=("GET", "POST"), resource="actions")
def signatures(request, key, petition_id):
    page = selectors.api_page(key, PETITION_KINDS, petition_id)
    if request.method == "POST":
        return _post_action(request, key, page, kinds=PETITION_KINDS, build=signature_document)
    return _actions(
        request,
        key,
        selectors.api_submissions(key, page=page),
        build=signature_document,
        rel="osdi:signatures",
        url_name="signatures",
        petition_id=page.pk,
    )


@endpoint(methods=("GET", "PUT"), resource="actions")
def signature(request, key, petition_id, signature_id):
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    page = selectors.api_page(key, PETITION_KINDS, petition_id)
    found = selectors.api_submission(key, page, signature_id)
    if request.method == "PUT":
        found = _update_comment(request, found)
    return hal.hal_response(signature_document(request, found))


def _update_comment(request, found: Submission) -> Submission:
    data = _payload(request)
    unknown = sorted(set(data) - ({"comments", "_links"} | IGNORED_ACTION_FIELDS))
    if unknown:
        raise ApiError(400, _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    if "comments" not in data:
        return found
    comment = _text_field(data, "comments", max_length=5000)
    return services.submission_api_update(submission=found, comment=comment)


@endpoint(methods=("GET",), resource="people")
def person_signatures(request, key, person_id):
    person = api_selectors.api_person(key, person_id)
    qs = selectors.api_submissions(key, person=person, page__kind__in=PETITION_KINDS)
    return _actions(
        request,
        key,
        qs,
        build=signature_document,
        rel="osdi:signatures",
        url_name="person_signatures",
        person_id=person.pk,
    )


def _person_action(key, person_id, action_id, kinds) -> Submission:
    person = api_selectors.api_person(key, person_id)
    pk = api_selectors.int_id(action_id)
    found = (
        selectors.api_submissions(key, person=person, page__kind__in=kinds).filter(pk=pk).first()
        if pk
        else None
    )
    if found is None:
        raise ApiError(
            404, _("Couldn't find %(id)s for this person.") % {"id": str(action_id)[:50]}
        )
    return found


@endpoint(methods=("GET",), resource="people")
def person_signature(request, key, person_id, signature_id):
    found = _person_action(key, person_id, signature_id, PETITION_KINDS)
    return hal.hal_response(signature_document(request, found))


@endpoint(methods=("GET", "POST"), resource="actions")
def forms(request, key):
    if request.method == "POST":
        return _post_page(request, key, kind=ActionPage.Kind.SIGNUP, build=form_document)
    return _pages(
        request, key, kinds=FORM_KINDS, rel="osdi:forms", url_name="forms", build=form_document
    )


@endpoint(methods=("GET", "PUT"), resource="actions")
def form(request, key, form_id):
    page = selectors.api_page(key, FORM_KINDS, form_id, write=request.method == "PUT")
    if request.method == "PUT":
        return _put_page(request, key, page, kinds=FORM_KINDS, build=form_document)
    return hal.hal_response(form_document(request, page))


@endpoint(methods=("GET", "POST"), resource="actions")
def submissions(request, key, form_id):
    page = selectors.api_page(key, FORM_KINDS, form_id)
    if request.method == "POST":
        return _post_action(request, key, page, kinds=FORM_KINDS, build=submission_document)
    return _actions(
        request,
        key,
        selectors.api_submissions(key, page=page),
        build=submission_document,
        rel="osdi:submissions",
        url_name="submissions",
        form_id=page.pk,
    )


@endpoint(methods=("GET", "PUT"), resource="actions")
def submission(request, key, form_id, submission_id):
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    page = selectors.api_page(key, FORM_KINDS, form_id)
    found = selectors.api_submission(key, page, submission_id)
    if request.method == "PUT":
        found = _update_comment(request, found)
    return hal.hal_response(submission_document(request, found))


@endpoint(methods=("GET",), resource="people")
def person_submissions(request, key, person_id):
    person = api_selectors.api_person(key, person_id)
    qs = selectors.api_submissions(key, person=person, page__kind__in=FORM_KINDS)
    return _actions(
        request,
        key,
        qs,
        build=submission_document,
        rel="osdi:submissions",
        url_name="person_submissions",
        person_id=person.pk,
    )


@endpoint(methods=("GET",), resource="people")
def person_submission(request, key, person_id, submission_id):
    found = _person_action(key, person_id, submission_id, FORM_KINDS)
    return hal.hal_response(submission_document(request, found))


# --- Advocacy campaigns (letter pages) and their outreaches ------------------------------
#
# Action Network keeps letters to a target as advocacy campaigns; each letter a person
# sends is an outreach. A Clarion letter page has one target (name, role, email); the
# target's email address is never shown.

LETTER_KINDS = (ActionPage.Kind.LETTER,)
SURVEY_KINDS = (ActionPage.Kind.SURVEY,)
OUTREACH_FIELDS = (HELPER_FIELDS - {"comments"}) | {
    "targets",
    "subject",
    "message",
    "type",
    "duration",
    "action_network:advocacy_campaign_id",
}


def _letter_targets(page: ActionPage) -> list[dict]:
    if not page.target_name:
        return []
    target = {"name": page.target_name}
    if page.target_role:
        target["title"] = page.target_role
    return [target]


def _page_total(page: ActionPage, total: int | None) -> int | None:
    """``total`` when given, else the count ``api_pages_with_totals`` annotated, else
    None (``_page_common`` then counts)."""
    if total is not None:
        return total
    return getattr(page, "api_total", None)


def advocacy_campaign_document(request, page: ActionPage, *, total: int | None = None) -> dict:
    """A letter page as an Action Network advocacy campaign (``type`` email)."""
    doc = _page_common(request, page, total=_page_total(page, total))
    doc["total_outreaches"] = doc.pop("_total")
    doc["summary"] = page.summary
    doc["type"] = "email"
    doc["targets"] = _letter_targets(page)
    doc["_links"] = {
        "self": {"href": hal.absolute(request, "advocacy_campaign", advocacy_campaign_id=page.pk)},
        "osdi:outreaches": {
            "href": hal.absolute(request, "outreaches", advocacy_campaign_id=page.pk)
        },
        "osdi:record_outreach_helper": {
            "href": hal.absolute(request, "outreaches", advocacy_campaign_id=page.pk)
        },
        "curies": hal.CURIES,
    }
    return doc


def outreach_document(request, submission: Submission) -> dict:
    """A letter sent on a letter page as an Action Network outreach: its subject and
    message as the person sent them, and the page's target."""
    page = submission.page
    answers = submission.answers or {}
    doc = _action_common(submission)
    doc.pop("comments")
    doc["type"] = "email"
    doc["subject"] = answers.get("subject") or page.letter_subject or page.title
    doc["message"] = answers.get("letter") or ""
    doc["targets"] = _letter_targets(page)
    doc["action_network:advocacy_campaign_id"] = str(submission.page_id)
    doc["_links"] = {
        "self": {
            "href": hal.absolute(
                request,
                "outreach",
                advocacy_campaign_id=submission.page_id,
                outreach_id=submission.pk,
            )
        },
        "osdi:advocacy_campaign": {
            "href": hal.absolute(
                request, "advocacy_campaign", advocacy_campaign_id=submission.page_id
            )
        },
        "osdi:person": {"href": hal.absolute(request, "person", person_id=submission.person_id)},
        "curies": hal.CURIES,
    }
    return doc


def survey_document(request, page: ActionPage, *, total: int | None = None) -> dict:
    """A survey page where Action Network serves surveys (``/surveys``); the same page
    is also a form under ``/forms``. ``clarion:questions`` are the page's questions."""
    doc = _page_common(request, page, total=_page_total(page, total))
    doc["total_responses"] = doc.pop("_total")
    doc["call_to_action"] = page.button_label
    doc["clarion:questions"] = [
        {
            "key": q.get("key"),
            "label": q.get("label", ""),
            "kind": q.get("kind", "text"),
            **({"choices": q["choices"]} if q.get("choices") else {}),
        }
        for q in page.questions or []
        if isinstance(q, dict)
    ]
    doc["_links"] = {
        "self": {"href": hal.absolute(request, "survey", survey_id=page.pk)},
        "action_network:responses": {"href": hal.absolute(request, "responses", survey_id=page.pk)},
        "curies": hal.CURIES,
    }
    return doc


def response_document(request, submission: Submission) -> dict:
    """One person's answers to a survey; ``clarion:answers`` maps each question key to
    the answer given."""
    doc = _action_common(submission)
    doc["action_network:survey_id"] = str(submission.page_id)
    doc["clarion:answers"] = submission.answers or {}
    doc["_links"] = {
        "self": {
            "href": hal.absolute(
                request, "response", survey_id=submission.page_id, response_id=submission.pk
            )
        },
        "action_network:survey": {
            "href": hal.absolute(request, "survey", survey_id=submission.page_id)
        },
        "osdi:person": {"href": hal.absolute(request, "person", person_id=submission.person_id)},
        "curies": hal.CURIES,
    }
    return doc


def _pages(request, key, *, kinds, rel: str, url_name: str, build):
    return collection_response(
        request,
        key,
        selectors.api_pages(key, kinds),
        filters=PAGE_FILTER_FIELDS,
        scope=url_name,
        rel=rel,
        url_name=url_name,
        build=build,
        reload=selectors.api_pages_with_totals,
    )


def _actions(request, key, qs, *, rel: str, url_name: str, build, **url_kwargs):
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    return collection_response(
        request,
        key,
        qs,
        filters=SUBMISSION_FILTER_FIELDS,
        scope=f"{url_name}|{url_kwargs}",
        rel=rel,
        url_name=url_name,
        build=build,
        **url_kwargs,
    )


def _letter_text(data: dict, name: str, *, max_length: int) -> str | None:
    return _text_field(data, name, max_length=max_length) if name in data else None


def _outreach_input(page: ActionPage, data: dict) -> tuple[str, str]:
    """The letter's subject and text: as sent, else the page's template. ``targets``
    may be sent (as Action Network clients do) but the letter goes to the page's own
    target."""
    targets = data.get("targets")
    if targets is not None and (
        not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets)
    ):
        raise ApiError(400, _("targets must be a list of objects."))
    subject = _letter_text(data, "subject", max_length=200)
    message = _letter_text(data, "message", max_length=20_000)
    subject = subject or page.letter_subject or page.title
    message = message or page.letter_body.strip()
    if not message:
        raise ApiError(
            400,
            _("This letter page has no letter template; give the letter's text in message."),
            extra={"errors": {"message": _("Required.")}},
        )
    return subject, message


def _record_outreach(key, page: ActionPage, data: dict) -> tuple[Submission, bool]:
    """Action Network's record outreach helper: the person as for the other record
    helpers (``_links`` or ``person``), the letter recorded through
    ``services.submission_record`` like a letter sent from the page, so the page's
    emails and the letter to its target go out as they would from the web. Returns
    (submission, created); a person who already wrote gets their first letter back."""
    from clarion.api import services as api_services

    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    unknown = sorted(set(data) - OUTREACH_FIELDS)
    if unknown:
        raise ApiError(400, _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    subject, message = _outreach_input(page, data)
    tags = _tag_list(data)
    person = _linked_person(key, data)
    if person is None and data.get("person") is None:
        raise ApiError(
            400,
            _("Name the person with _links osdi:person, or describe them in person."),
        )
    with transaction.atomic():
        if person is None:
            person, _created = api_services.person_signup(key=key, data={"person": data["person"]})
        result = services.outreach_api_record(
            page=page, person=person, subject=subject, message=message, tags=tags, actor=key.owner
        )
    return selectors.api_submission(key, page, result.submission.pk), not result.duplicate


@background.writer("actions.outreach", resource="people")
def _outreach_later(key, *, page_id: int, data: dict) -> None:
    _record_outreach(key, selectors.api_page(key, LETTER_KINDS, page_id), data)


@endpoint(methods=("GET",), resource="actions")
def advocacy_campaigns(request, key):
    return _pages(
        request,
        key,
        kinds=LETTER_KINDS,
        rel="osdi:advocacy_campaigns",
        url_name="advocacy_campaigns",
        build=advocacy_campaign_document,
    )


@endpoint(methods=("GET",), resource="actions")
def advocacy_campaign(request, key, advocacy_campaign_id):
    page = selectors.api_page(key, LETTER_KINDS, advocacy_campaign_id)
    return hal.hal_response(advocacy_campaign_document(request, page))


@endpoint(methods=("GET", "POST"), resource="actions")
def outreaches(request, key, advocacy_campaign_id):
    page = selectors.api_page(key, LETTER_KINDS, advocacy_campaign_id)
    if request.method == "POST":
        data = _payload(request)
        if background.requested(request):
            return background.queue(key=key, name="actions.outreach", page_id=page.pk, data=data)
        found, created = _record_outreach(key, page, data)
        return hal.hal_response(outreach_document(request, found), status=201 if created else 200)
    return _actions(
        request,
        key,
        selectors.api_submissions(key, page=page).select_related("page"),
        rel="osdi:outreaches",
        url_name="outreaches",
        build=outreach_document,
        advocacy_campaign_id=page.pk,
    )


@endpoint(methods=("GET",), resource="actions")
def outreach(request, key, advocacy_campaign_id, outreach_id):
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    page = selectors.api_page(key, LETTER_KINDS, advocacy_campaign_id)
    return hal.hal_response(
        outreach_document(request, selectors.api_submission(key, page, outreach_id))
    )


@endpoint(methods=("GET",), resource="people")
def person_outreaches(request, key, person_id):
    person = api_selectors.api_person(key, person_id)
    return _actions(
        request,
        key,
        selectors.api_submissions(key, person=person, page__kind__in=LETTER_KINDS).select_related(
            "page"
        ),
        rel="osdi:outreaches",
        url_name="person_outreaches",
        build=outreach_document,
        person_id=person.pk,
    )


@endpoint(methods=("GET",), resource="people")
def person_outreach(request, key, person_id, outreach_id):
    found = _person_action(key, person_id, outreach_id, LETTER_KINDS)
    return hal.hal_response(outreach_document(request, found))


@endpoint(methods=("GET",), resource="actions")
def surveys(request, key):
    return _pages(
        request,
        key,
        kinds=SURVEY_KINDS,
        rel="action_network:surveys",
        url_name="surveys",
        build=survey_document,
    )


@endpoint(methods=("GET",), resource="actions")
def survey(request, key, survey_id):
    return hal.hal_response(
        survey_document(request, selectors.api_page(key, SURVEY_KINDS, survey_id))
    )


@endpoint(methods=("GET",), resource="actions")
def responses(request, key, survey_id):
    page = selectors.api_page(key, SURVEY_KINDS, survey_id)
    return _actions(
        request,
        key,
        selectors.api_submissions(key, page=page),
        rel="action_network:responses",
        url_name="responses",
        build=response_document,
        survey_id=page.pk,
    )


@endpoint(methods=("GET",), resource="actions")
def response(request, key, survey_id, response_id):
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    page = selectors.api_page(key, SURVEY_KINDS, survey_id)
    return hal.hal_response(
        response_document(request, selectors.api_submission(key, page, response_id))
    )


@endpoint(methods=("GET",), resource="people")
def person_responses(request, key, person_id):
    person = api_selectors.api_person(key, person_id)
    return _actions(
        request,
        key,
        selectors.api_submissions(key, person=person, page__kind__in=SURVEY_KINDS),
        rel="action_network:responses",
        url_name="person_responses",
        build=response_document,
        person_id=person.pk,
    )


@endpoint(methods=("GET",), resource="people")
def person_response(request, key, person_id, response_id):
    found = _person_action(key, person_id, response_id, SURVEY_KINDS)
    return hal.hal_response(response_document(request, found))


# Paths take the trailing slash either way (see clarion/api/urls.py).
urlpatterns = [
    re_path(r"^petitions/?$", petitions, name="petitions"),
    re_path(r"^petitions/(?P<petition_id>[^/]+)/?$", petition, name="petition"),
    re_path(r"^petitions/(?P<petition_id>[^/]+)/signatures/?$", signatures, name="signatures"),
    re_path(
        r"^petitions/(?P<petition_id>[^/]+)/signatures/(?P<signature_id>[^/]+)/?$",
        signature,
        name="signature",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/signatures/?$", person_signatures, name="person_signatures"
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/signatures/(?P<signature_id>[^/]+)/?$",
        person_signature,
        name="person_signature",
    ),
    re_path(r"^forms/?$", forms, name="forms"),
    re_path(r"^forms/(?P<form_id>[^/]+)/?$", form, name="form"),
    re_path(r"^forms/(?P<form_id>[^/]+)/submissions/?$", submissions, name="submissions"),
    re_path(
        r"^forms/(?P<form_id>[^/]+)/submissions/(?P<submission_id>[^/]+)/?$",
        submission,
        name="submission",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/submissions/?$",
        person_submissions,
        name="person_submissions",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/submissions/(?P<submission_id>[^/]+)/?$",
        person_submission,
        name="person_submission",
    ),
    re_path(r"^advocacy_campaigns/?$", advocacy_campaigns, name="advocacy_campaigns"),
    re_path(
        r"^advocacy_campaigns/(?P<advocacy_campaign_id>[^/]+)/?$",
        advocacy_campaign,
        name="advocacy_campaign",
    ),
    re_path(
        r"^advocacy_campaigns/(?P<advocacy_campaign_id>[^/]+)/outreaches/?$",
        outreaches,
        name="outreaches",
    ),
    re_path(
        r"^advocacy_campaigns/(?P<advocacy_campaign_id>[^/]+)/outreaches/(?P<outreach_id>[^/]+)/?$",
        outreach,
        name="outreach",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/outreaches/?$", person_outreaches, name="person_outreaches"
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/outreaches/(?P<outreach_id>[^/]+)/?$",
        person_outreach,
        name="person_outreach",
    ),
    re_path(r"^surveys/?$", surveys, name="surveys"),
    re_path(r"^surveys/(?P<survey_id>[^/]+)/?$", survey, name="survey"),
    re_path(r"^surveys/(?P<survey_id>[^/]+)/responses/?$", responses, name="responses"),
    re_path(
        r"^surveys/(?P<survey_id>[^/]+)/responses/(?P<response_id>[^/]+)/?$",
        response,
        name="response",
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/responses/?$", person_responses, name="person_responses"
    ),
    re_path(
        r"^people/(?P<person_id>[^/]+)/responses/(?P<response_id>[^/]+)/?$",
        person_response,
        name="person_response",
    ),
]
