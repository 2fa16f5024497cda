"""Action Network v2 / OSDI API endpoints for the donations app (mounted under /api/v2/):
fundraising pages (Clarion's donation pages) and donations, with the record donation
helper for gifts another system processed.

Money leaves and enters as text with two decimals (``"12.50"``), as Action Network
writes it, and is integer pence inside; a JSON number with a fraction is refused
rather than read through float.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import re_path, reverse
from django.utils.translation import gettext as _

from clarion.actions.models import ActionPage
from clarion.api import background, hal
from clarion.api import services as api_services
from clarion.api.errors import ApiError
from clarion.api.filters import filter_datetime, filter_text
from clarion.api.payloads import (
    linked_person,
    nested,
    request_payload,
    text,
    unknown_fields,
    when,
)
from clarion.api.selectors import api_person, int_id
from clarion.api.views import collection_response, endpoint
from clarion.core.site import site_url

from . import selectors, services
from .models import Donation
from .money import MoneyError, clean_currency, parse_money, to_pence

PAGE_FIELDS = {"title", "name", "description", "summary", "currency", "action_network:hidden"}
PAGE_IGNORED = {
    "identifiers",
    "created_date",
    "modified_date",
    "browser_url",
    "origin_system",
    "featured_image_url",
    "total_donations",
    "total_amount",
    "clarion:status",
    "_links",
    "_embedded",
}
DONATION_FIELDS = {
    "person",
    "_links",
    "recipients",
    "amount",
    "currency",
    "payment",
    "created_date",
    "modified_date",
    "identifiers",
    "origin_system",
    "add_tags",
    "remove_tags",
    "triggers",
    "action_network:recurrence",
    "action_network:referrer_data",
}
PAGE_FILTERS = {
    "created_date": ("created_at", filter_datetime, False),
    "modified_date": ("modified_at", filter_datetime, False),
    "title": ("title", filter_text, True),
}
DONATION_FILTERS = {
    "created_date": ("created_at", filter_datetime, False),
    "modified_date": ("modified_at", filter_datetime, False),
}
PAYMENT_METHODS = {
    "stripe": "Credit Card",
    "test": "Credit Card",
}

# --- Money as text ------------------------------------------------------------------

# What money_pence reads at most (a billion units); the gift itself must also be within
# the donation maximum, which donation_record_external checks.
API_MAX_PENCE = 10**11


def money_text(pence: int) -> str:
    """``1250`` → ``"12.50"``."""
    units, minor = divmod(int(pence), 100)
    return f"{units}.{minor:02d}"


def money_pence(value: Any, field: str, currency: str = "GBP") -> int:
    """``"12.50"`` (or a whole number, ``12``) → ``1250``, read by ``parse_money``;
    ApiError(400) naming ``field`` otherwise, with ``errors`` mapping the field to the
    problem. Gifts above the donation maximum are refused by the service, which says
    so in its own words."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        problem = _('Give the amount as text, like "12.50".')
    else:
        try:
            return to_pence(parse_money(value, currency=currency, maximum_pence=API_MAX_PENCE))
        except MoneyError as exc:
            problem = exc.message
    raise ApiError(
        400,
        _('%(field)s: %(problem)s Send amounts as text, like "12.50".')
        % {"field": field, "problem": problem},
        extra={"errors": {field: problem}},
    )


# --- Documents ------------------------------------------------------------------


def _public_url(request, path: str) -> str:
    if request is None:
        return site_url(path)
    return request.build_absolute_uri(path)


def _with_totals(qs: QuerySet[ActionPage]) -> QuerySet[ActionPage]:
    counted = Q(donations__status=Donation.Status.SUCCEEDED)
    return qs.annotate(
        api_count=Count("donations", filter=counted),
        api_pence=Coalesce(
            Sum(F("donations__amount_pence") - F("donations__refunded_pence"), filter=counted), 0
        ),
    )


def fundraising_page_document(request, page: ActionPage) -> dict:
    """A donation page as an Action Network fundraising page. ``request`` may be None (a
    webhook built by a worker): links are then made from ``settings.SITE_URL``.
    Totals come from ``api_count`` / ``api_pence`` annotations when the caller made
    them, else from ``page_totals``."""
    count = getattr(page, "api_count", None)
    pence = getattr(page, "api_pence", None)
    if count is None or pence is None:
        totals = selectors.page_totals(page)
        count, pence = totals["count"], totals["amount_pence"]
    document: dict[str, Any] = {
        "identifiers": hal.identifiers(page.pk),
        "created_date": hal.iso(page.created_at),
        "modified_date": hal.iso(page.modified_at),
        "title": page.title,
        "name": page.slug,
        "description": page.body_html,
        "summary": page.summary,
        "browser_url": _public_url(request, reverse("actions:page", kwargs={"slug": page.slug})),
        "origin_system": "Clarion",
        "currency": page.currency,
        "total_donations": int(count),
        "total_amount": money_text(int(pence)),
        "action_network:hidden": page.status != ActionPage.Status.LIVE,
        "clarion:status": page.status,
        "_links": {
            "self": {"href": hal.absolute(request, "fundraising_page", page_id=page.pk)},
            "osdi:donations": {
                "href": hal.absolute(request, "fundraising_page_donations", page_id=page.pk)
            },
            "osdi:record_donation_helper": {
                "href": hal.absolute(request, "fundraising_page_donations", page_id=page.pk)
            },
            "curies": hal.CURIES,
        },
    }
    if page.hero_image:
        document["featured_image_url"] = _public_url(request, page.hero_image.url)
    return document


def donation_document(request, donation: Donation) -> dict:
    """A donation in Action Network's shape; the whole gift goes to the organisation
    (one recipient). ``request`` may be None (links from ``settings.SITE_URL``)."""
    amount = money_text(donation.amount_pence)
    referrer: dict[str, str] = {}
    if donation.source:
        referrer["source"] = donation.source
    if donation.referrer:
        referrer["website"] = donation.referrer
    links: dict[str, Any] = {
        "self": {"href": hal.absolute(request, "donation", donation_id=donation.pk)},
        "osdi:fundraising_page": {
            "href": hal.absolute(request, "fundraising_page", page_id=donation.page_id)
        },
    }
    if donation.person_id is not None:
        links["osdi:person"] = {
            "href": hal.absolute(request, "person", person_id=donation.person_id)
        }
    links["curies"] = hal.CURIES
    payment: dict[str, Any] = {
        "method": donation.payment_method or PAYMENT_METHODS.get(donation.gateway, "Other"),
        "authorization_stored": donation.plan_id is not None,
    }
    reference = donation.gateway_charge_id or donation.gateway_checkout_id
    if reference:
        payment["reference_number"] = reference
    recurrence: dict[str, Any] = {"recurring": donation.recurring}
    if donation.recurring:
        recurrence["period"] = "Monthly"
    document: dict[str, Any] = {
        "identifiers": hal.identifiers(donation.pk),
        "created_date": hal.iso(donation.created_at),
        "modified_date": hal.iso(donation.modified_at),
        "origin_system": donation.origin_system or "Clarion",
        "amount": amount,
        "currency": donation.currency,
        "recipients": [{"display_name": settings.ORGANISATION_NAME, "amount": amount}],
        "payment": payment,
        "action_network:recurrence": recurrence,
        "action_network:referrer_data": referrer,
        "action_network:fundraising_page_id": str(donation.page_id),
        "clarion:status": donation.status,
        "clarion:refunded_amount": money_text(donation.refunded_pence),
        "_links": links,
    }
    if donation.person_id is not None:
        document["action_network:person_id"] = str(donation.person_id)
    if donation.refunded_pence:
        document["credited_amount"] = money_text(donation.refunded_pence)
        document["credited_date"] = hal.iso(donation.refunded_at)
    return document


# --- Reading and writing ----------------------------------------------------------


def _fundraising_page(key, page_id) -> ActionPage:
    pk = int_id(page_id)
    page = selectors.api_fundraising_pages(key).filter(pk=pk).first() if pk else None
    if page is None:
        raise ApiError(
            404,
            _("Couldn't find fundraising page with id = %(id)s") % {"id": str(page_id)[:50]},
        )
    return page


def _require_people(key) -> None:
    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))


def _page_fields(data: dict, *, creating: bool) -> dict[str, Any]:
    """The ActionPage attributes ``data`` sets, checked (ApiError 400 otherwise)."""
    unknown_fields(data, PAGE_FIELDS | PAGE_IGNORED)
    fields: dict[str, Any] = {}
    if "title" in data or creating:
        title = text(data.get("title"), "title", 200)
        if not title:
            raise ApiError(400, _("Give the fundraising page a title."))
        fields["title"] = title
    if "description" in data:
        fields["body"] = text(data["description"], "description", 50_000)
    if "summary" in data:
        fields["summary"] = text(data["summary"], "summary", 300)
    if "currency" in data:
        fields["currency"] = clean_currency(data["currency"])
    if "action_network:hidden" in data:
        hidden = data["action_network:hidden"]
        if hidden in ("true", "false"):
            hidden = hidden == "true"
        if not isinstance(hidden, bool):
            raise ApiError(400, _("action_network:hidden must be true or false."))
        fields["status"] = ActionPage.Status.DRAFT if hidden else ActionPage.Status.LIVE
    return fields


def _fundraising_page_create(*, key, data: dict) -> ActionPage:
    return services.fundraising_page_create(
        fields=_page_fields(data, creating=True),
        area=key.area or key.owner.scope_area,
        actor=key.owner,
    )


def _fundraising_page_update(*, key, page: ActionPage, data: dict) -> ActionPage:
    fields = _page_fields(data, creating=False)
    return services.fundraising_page_update(page=page, fields=fields, actor=key.owner)


def _donation_amount(data: dict, currency: str) -> int:
    recipients = nested(data, "recipients", many=True)
    total = None
    if recipients:
        total = 0
        for recipient in recipients:
            if "amount" not in recipient:
                raise ApiError(400, _("Each recipient needs an amount."))
            total += money_pence(recipient["amount"], "recipients.amount", currency)
    if data.get("amount") is not None:
        amount = money_pence(data["amount"], "amount", currency)
        if total is not None and amount != total:
            raise ApiError(400, _("amount must be the sum of the recipients' amounts."))
        total = amount
    if total is None:
        raise ApiError(400, _("Give the amount given in recipients (or amount)."))
    if total <= 0:
        raise ApiError(400, _("The amount must be more than nothing."))
    return total


@transaction.atomic
def _donation_record(*, key, page: ActionPage, data: dict) -> tuple[Donation, bool]:
    """The record donation helper: read and check the gift, find or create the donor
    (Action Network's signup matching, within the key's reach), then record the gift
    through ``donation_record_external``. All committed together or not at all."""
    unknown_fields(data, DONATION_FIELDS)
    currency = clean_currency(data.get("currency") or page.currency)
    amount = _donation_amount(data, currency)
    payment = nested(data, "payment") or {}
    method = text(payment.get("method"), "payment.method", 30)
    reference = payment.get("reference_number")
    reference = text(
        str(reference) if isinstance(reference, int) else reference, "payment.reference_number", 255
    )
    recurrence = nested(data, "action_network:recurrence") or {}
    recurring = recurrence.get("recurring", False)
    if recurring in ("true", "false"):
        recurring = recurring == "true"
    if not isinstance(recurring, bool):
        raise ApiError(400, _("action_network:recurrence.recurring must be true or false."))
    referrer = nested(data, "action_network:referrer_data") or {}
    attribution = {
        "source": text(referrer.get("source"), "action_network:referrer_data.source", 100),
        "referrer": text(referrer.get("website"), "action_network:referrer_data.website", 500),
    }
    donated_at = when(data.get("created_date"), "created_date")
    origin = text(data.get("origin_system"), "origin_system", 100)
    if data.get("person") is not None:
        person, _created = api_services.person_signup(
            key=key,
            data={
                "person": nested(data, "person"),
                "add_tags": data.get("add_tags"),
                "remove_tags": data.get("remove_tags"),
            },
        )
    elif data.get("_links") is not None:
        person = linked_person(key, nested(data, "_links"))
    else:
        raise ApiError(400, _("Give the donor as person, or as _links with osdi:person."))
    return services.donation_record_external(
        page=page,
        person=person,
        amount_pence=amount,
        currency=currency,
        recurring=recurring,
        donated_at=donated_at,
        payment_method=method,
        reference=reference,
        origin_system=origin or "API",
        attribution=attribution,
        actor=key.owner,
    )


@background.writer("donations.record", resource="donations")
def _donation_background(key, *, page_id: int, data: dict) -> None:
    """The record donation helper run later (``?background_processing=true``). A gift
    with a ``payment.reference_number`` is recorded once however often this runs."""
    _require_people(key)
    _donation_record(key=key, page=_fundraising_page(key, page_id), data=data)


# --- Views -----------------------------------------------------------------------


@endpoint(methods=("GET", "POST"), resource="donations")
def fundraising_pages(request, key):
    if request.method == "POST":
        page = _fundraising_page_create(key=key, data=request_payload(request))
        return hal.hal_response(
            fundraising_page_document(
                request, _with_totals(ActionPage.objects.filter(pk=page.pk)).get()
            ),
            status=201,
        )
    return collection_response(
        request,
        key,
        selectors.api_fundraising_pages(key),
        filters=PAGE_FILTERS,
        scope="fundraising_pages",
        rel="osdi:fundraising_pages",
        url_name="fundraising_pages",
        build=fundraising_page_document,
        reload=_with_totals,
    )


@endpoint(methods=("GET", "PUT"), resource="donations")
def fundraising_page(request, key, page_id):
    found = _fundraising_page(key, page_id)
    if request.method == "PUT":
        found = _fundraising_page_update(key=key, page=found, data=request_payload(request))
    return hal.hal_response(
        fundraising_page_document(
            request, _with_totals(ActionPage.objects.filter(pk=found.pk)).get()
        )
    )


def _donation_page(request, key, qs, *, scope: str, url_name: str, **kwargs):
    return collection_response(
        request,
        key,
        qs,
        filters=DONATION_FILTERS,
        scope=scope,
        rel="osdi:donations",
        url_name=url_name,
        build=donation_document,
        **kwargs,
    )


@endpoint(methods=("GET", "POST"), resource="donations")
def fundraising_page_donations(request, key, page_id):
    _require_people(key)
    found = _fundraising_page(key, page_id)
    if request.method == "POST":
        data = request_payload(request)
        if background.requested(request):
            return background.queue(key=key, name="donations.record", page_id=found.pk, data=data)
        donation, created = _donation_record(key=key, page=found, data=data)
        return hal.hal_response(
            donation_document(request, donation), status=201 if created else 200
        )
    return _donation_page(
        request,
        key,
        selectors.api_donations(key).filter(page=found),
        scope=f"page_donations|{found.pk}",
        url_name="fundraising_page_donations",
        page_id=found.pk,
    )


@endpoint(methods=("GET",), resource="donations")
def donations(request, key):
    _require_people(key)
    return _donation_page(
        request, key, selectors.api_donations(key), scope="donations", url_name="donations"
    )


@endpoint(methods=("GET",), resource="donations")
def donation(request, key, donation_id):
    _require_people(key)
    pk = int_id(donation_id)
    found = selectors.api_donations(key).filter(pk=pk).first() if pk else None
    if found is None:
        raise ApiError(
            404, _("Couldn't find donation with id = %(id)s") % {"id": str(donation_id)[:50]}
        )
    return hal.hal_response(donation_document(request, found))


@endpoint(methods=("GET",), resource="donations")
def person_donations(request, key, person_id):
    _require_people(key)
    person = api_person(key, person_id)
    return _donation_page(
        request,
        key,
        selectors.api_donations(key).filter(person=person),
        scope=f"person_donations|{person.pk}",
        url_name="person_donations",
        person_id=person.pk,
    )


urlpatterns = [
    re_path(r"^fundraising_pages/?$", fundraising_pages, name="fundraising_pages"),
    re_path(r"^fundraising_pages/(?P<page_id>[^/]+)/?$", fundraising_page, name="fundraising_page"),
    re_path(
        r"^fundraising_pages/(?P<page_id>[^/]+)/donations/?$",
        fundraising_page_donations,
        name="fundraising_page_donations",
    ),
    re_path(r"^donations/?$", donations, name="donations"),
    re_path(r"^donations/(?P<donation_id>[^/]+)/?$", donation, name="donation"),
    re_path(
        r"^people/(?P<person_id>[^/]+)/donations/?$", person_donations, name="person_donations"
    ),
]
