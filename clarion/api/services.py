"""Writes made through the API. People change only through ``clarion.people.services``.

Scope rule for keys limited to an area (an organiser's key, or a key given an area):
a write that would touch a person outside the key's reach is refused with 403 and
changes nothing. That covers the signup helper matching an existing person of
another area by email, phone or identifier (the only thing the client learns is that
the address is held elsewhere, which a unique email makes unavoidable), and a write
that would leave the person outside the area (a new person without a postcode in it,
or a postcode moved away): the whole transaction is rolled back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.models import Area
from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.models import EmailStatus, Person, PersonIdentifier, Tag, Tagging
from clarion.people.normalise import InvalidEmail, InvalidPhone, normalise_email, normalise_phone
from clarion.people.services import (
    person_find,
    person_update,
    person_upsert,
    tag_add,
    tag_get_or_create,
    tag_remove,
)

from . import background, person_extras
from .errors import ApiError
from .models import ApiKey
from .selectors import api_people

OWN_SYSTEMS = ("clarion", "action_network")
STATUS_IN = {
    "subscribed": EmailStatus.SUBSCRIBED,
    "unsubscribed": EmailStatus.UNSUBSCRIBED,
    "bouncing": EmailStatus.BOUNCING,
    "spam complaint": EmailStatus.COMPLAINED,
}
# Read-only or informational fields a client may send back unchanged.
IGNORED_PERSON_FIELDS = {
    "created_date",
    "modified_date",
    "_links",
    "_embedded",
    "languages_spoken",
    "gender",
    "browser_url",
}
PERSON_FIELDS = {
    "given_name",
    "family_name",
    "email_addresses",
    "phone_numbers",
    "postal_addresses",
    "custom_fields",
    "identifiers",
} | IGNORED_PERSON_FIELDS
OSDI_ERROR_FIELDS = {
    "email": "email_addresses",
    "phone": "phone_numbers",
    "postcode": "postal_addresses",
    "first_name": "given_name",
    "last_name": "family_name",
    "email_status": "email_addresses",
}


# --- Keys --------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    owner,
    actor,
    scope: str = ApiKey.Scope.WRITE,
    area: Area | None = None,
    name: str = "",
    resources: Sequence[str] = (),
    request=None,
) -> tuple[ApiKey, str]:
    """Create a key for ``owner``; returns (key, token). The token is not stored and
    cannot be shown again. Raises ValidationError when the owner could not hold such a
    key (inactive, a write key for a read-only role, an area outside their scope)."""
    errors: dict[str, str] = {}
    if not owner.is_active:
        errors["owner"] = _("This staff account is deactivated.")
    if scope not in ApiKey.Scope.values:
        errors["scope"] = _("Choose read only or read and write.")
    elif scope == ApiKey.Scope.WRITE and not owner.can_write:
        errors["scope"] = _(
            "This staff user may not change people, so their key must be read only."
        )
    owner_scope = owner.scope_area
    if area is not None and not area.is_within(owner_scope):
        errors["area"] = _("The area must be inside the owner's own area.")
    if (
        owner.role != owner.Role.ADMIN
        and owner_scope is None
        and owner.role == owner.Role.ORGANISER
    ):
        errors["owner"] = _("An organiser without an area cannot hold a key.")
    unknown = [r for r in resources if r not in ApiKey.Resource.values]
    if unknown:
        errors["resources"] = _("Unknown resource: %(names)s.") % {"names": ", ".join(unknown)}
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    token = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name.strip()[:100],
        prefix=prefix,
        token_hash=_token_hash(token),
        owner=owner,
        scope=scope,
        area=area,
        resources=sorted(set(resources)),
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.OTHER,
        summary=f"API key {prefix} created for {owner.email}",
        object_type="api_key",
        object_id=key.pk,
        detail={"scope": scope, "area": area.code if area else None},
        request=request,
    )
    return key, token


def api_key_revoke(*, key: ApiKey, actor, request=None) -> bool:
    """Revoke ``key`` at once (every later request with it gets 401); False if it
    already was revoked."""
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        key.refresh_from_db(fields=["revoked_at"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.OTHER,
            summary=f"API key {key.prefix} revoked",
            object_type="api_key",
            object_id=key.pk,
            request=request,
        )
    return bool(updated)


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once a minute per key so busy keys do not write every request."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


# --- Reading payloads ----------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _string(value: Any, field: str, *, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(_("%(field)s must be text.") % {"field": field})
    return str(value)


def _list_of_dicts(value: Any, field: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _bad(_("%(field)s must be a list of objects.") % {"field": field})
    return value


def _primary(items: list[dict]) -> dict | None:
    if not items:
        return None
    for item in items:
        if item.get("primary") is True:
            return item
    return items[0]


def _phone(raw: str) -> str:
    """A number as Action Network clients send it: often digits only, country code first."""
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        digits = re.sub(r"[^0-9]", "", raw)
        if digits and not raw.strip().startswith("+"):
            try:
                return normalise_phone("+" + digits)
            except InvalidPhone:
                pass
        raise ValidationError({"phone": _("Enter a valid phone number.")}) from None


def person_fields(data: Any) -> dict[str, Any]:
    """The person fields of an OSDI person object, as keyword arguments for the people
    services; only fields the client sent appear. Raises ApiError(400)."""
    if not isinstance(data, dict):
        raise _bad(_("person must be an object."))
    unknown = sorted(set(data) - PERSON_FIELDS)
    if unknown:
        raise _bad(_("Unknown person fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    out: dict[str, Any] = {}
    if "given_name" in data:
        out["first_name"] = _string(data["given_name"], "given_name") or ""
    if "family_name" in data:
        out["last_name"] = _string(data["family_name"], "family_name") or ""
    if "email_addresses" in data:
        email = _primary(_list_of_dicts(data["email_addresses"], "email_addresses"))
        if email is not None:
            address = _string(email.get("address"), "email_addresses.address")
            if address is not None:
                out["email"] = address
            status = email.get("status")
            if status is not None:
                if not isinstance(status, str) or status.lower() not in STATUS_IN:
                    raise _bad(
                        _("email_addresses.status must be one of: %(values)s.")
                        % {"values": ", ".join(STATUS_IN)}
                    )
                out["email_status"] = STATUS_IN[status.lower()]
    if "phone_numbers" in data:
        phone = _primary(_list_of_dicts(data["phone_numbers"], "phone_numbers"))
        if phone is not None and phone.get("number") not in (None, ""):
            out["phone"] = _phone(_string(phone.get("number"), "phone_numbers.number") or "")
    if "postal_addresses" in data:
        address = _primary(_list_of_dicts(data["postal_addresses"], "postal_addresses"))
        if address is not None:
            if "address_lines" in address:
                lines = address["address_lines"]
                if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                    raise _bad(_("postal_addresses.address_lines must be a list of text."))
                out["address_line1"] = lines[0] if lines else ""
                out["address_line2"] = " ".join(lines[1:])
            if "locality" in address:
                out["town"] = _string(address["locality"], "postal_addresses.locality") or ""
            if "postal_code" in address:
                out["postcode"] = (
                    _string(address["postal_code"], "postal_addresses.postal_code") or ""
                )
            country = address.get("country")
            if country not in (None, "", "GB", "UK", "gb", "uk"):
                raise _bad(_("Only addresses in the United Kingdom (country GB) can be stored."))
    if "custom_fields" in data:
        custom = data["custom_fields"]
        if not isinstance(custom, dict):
            raise _bad(_("custom_fields must be an object."))
        for key, value in custom.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise _bad(
                    _("custom_fields.%(key)s must be text, a number or true/false.")
                    % {"key": key[:60]}
                )
        out["custom_fields"] = custom
    if "identifiers" in data:
        idents = data["identifiers"]
        if not isinstance(idents, list) or not all(isinstance(i, str) for i in idents):
            raise _bad(_("identifiers must be a list of text like system:value."))
        foreign = []
        for ident in idents:
            system, sep, value = ident.partition(":")
            if not sep or not system or not value or len(system) > 50 or len(value) > 200:
                raise _bad(_("Identifier %(id)s must look like system:value.") % {"id": ident[:60]})
            if system not in OWN_SYSTEMS:
                foreign.append((system, value))
        out["identifiers"] = foreign
    return out


def _tag_names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(_("%(field)s must be a list of tag names.") % {"field": field})
    return [v for v in value if v.strip()][:100]


def _require_in_scope(key: ApiKey, person: Person) -> None:
    if not api_people(key).filter(pk=person.pk).exists():
        raise ApiError(
            403, _("This API key is limited to an area, and this person would be outside it.")
        )


def _add_identifiers(*, person: Person, identifiers: list[tuple[str, str]], actor) -> None:
    for system, value in identifiers:
        if PersonIdentifier.objects.filter(system=system, value=value).exists():
            continue
        if person.email or person.phone:
            person_upsert(
                email=person.email, phone=person.phone, identifier=(system, value), actor=actor
            )


# --- People --------------------------------------------------------------------------


@transaction.atomic
def person_signup(*, key: ApiKey, data: Any) -> tuple[Person, bool]:
    """Action Network's person signup helper: create or update the person described by
    ``data["person"]`` (matched on email, then phone), apply ``add_tags`` and
    ``remove_tags``. The email status changes only when the client gives one; a new
    person without one is "not subscribed". Returns (person, created)."""
    if not isinstance(data, dict):
        raise _bad(_("The body must be a JSON object."))
    unknown = sorted(set(data) - {"person", "add_tags", "remove_tags", "triggers"})
    if unknown:
        raise _bad(_("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    if "person" not in data:
        raise _bad(_("Give the person to add as person."))
    person_data = data["person"]
    extras = {}
    if isinstance(person_data, dict):
        person_data = dict(person_data)
        extras = person_extras.values_pop(person_data)
    fields = person_fields(person_data)
    add_tags = _tag_names(data.get("add_tags"), "add_tags")
    remove_tags = _tag_names(data.get("remove_tags"), "remove_tags")
    identifiers = fields.pop("identifiers", [])
    if not (fields.get("email") or fields.get("phone")):
        raise _bad(
            _(
                "A person needs an email address (email_addresses) or a phone number (phone_numbers)."
            )
        )
    try:
        email_n = normalise_email(fields.get("email"))
    except InvalidEmail:
        email_n = ""
    existing = person_find(
        email=email_n,
        phone=fields.get("phone", ""),
        identifier=identifiers[0] if identifiers else None,
    )
    if existing is not None and not api_people(key).filter(pk=existing.pk).exists():
        raise ApiError(403, _("This person is outside the area this API key reaches."))
    result = person_upsert(
        identifier=identifiers[0] if identifiers else None,
        actor=key.owner,
        source_code="api",
        **fields,
    )
    person = result.person
    _add_identifiers(person=person, identifiers=identifiers[1:], actor=key.owner)
    for name in add_tags:
        tag, _created = tag_get_or_create(name=name)
        tag_add(person=person, tag=tag, actor=key.owner)
    for name in remove_tags:
        tag = Tag.objects.filter(name__iexact=name.strip()).first()
        if tag is not None:
            tag_remove(person=person, tag=tag, actor=key.owner)
    _require_in_scope(key, person)
    _extras_write(key, person, extras)
    person.refresh_from_db()
    return person, result.created


@transaction.atomic
def person_api_update(*, key: ApiKey, person: Person, data: Any) -> Person:
    """Action Network's PUT on a person: change only the fields given. ``person`` must
    already be in the key's reach (the caller fetched it through ``api_person``)."""
    if not isinstance(data, dict):
        raise _bad(_("The body must be a JSON object."))
    data = dict(data)
    extras = person_extras.values_pop(data)
    fields = person_fields(data)
    identifiers = fields.pop("identifiers", [])
    person = Person.objects.select_for_update().get(pk=person.pk)
    values: dict[str, Any] = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email or "",
        "phone": person.phone,
        "address_line1": person.address_line1,
        "address_line2": person.address_line2,
        "town": person.town,
        "postcode": person.postcode,
        "membership_number": person.membership_number or "",
        "membership_status": person.membership_status,
        "joined_on": person.joined_on,
        "renews_on": person.renews_on,
    }
    for name in (
        "first_name",
        "last_name",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "town",
        "postcode",
    ):
        if name in fields:
            values[name] = fields[name]
    if not (values["email"] or values["phone"]):
        raise _bad(_("A person needs an email address or a phone number."))
    person_update(
        person=person,
        actor=key.owner,
        custom_fields=fields.get("custom_fields"),
        email_status=fields.get("email_status"),
        email_status_reason=_("Changed through the API"),
        **values,
    )
    person.refresh_from_db()
    _add_identifiers(person=person, identifiers=identifiers, actor=key.owner)
    _require_in_scope(key, person)
    _extras_write(key, person, extras)
    return person


def _extras_write(key: ApiKey, person: Person, values: dict[str, Any]) -> None:
    """The extra person fields other apps registered (``person_extras``), in the
    caller's transaction."""
    if values:
        person_extras.values_write(
            person=person,
            values=values,
            actor=key.owner,
            admin=key.owner.is_admin,
            reason=_("Changed through the API (key %(prefix)s)") % {"prefix": key.prefix},
        )


# --- Tags and taggings --------------------------------------------------------------


def tag_api_create(*, data: Any) -> tuple[Tag, bool]:
    if not isinstance(data, dict):
        raise _bad(_("The body must be a JSON object."))
    unknown = sorted(set(data) - {"name", "identifiers", "_links"})
    if unknown:
        raise _bad(_("Unknown fields: %(names)s.") % {"names": ", ".join(unknown[:10])})
    name = _string(data.get("name"), "name")
    if not name or not name.strip():
        raise _bad(_("Give the tag a name."))
    if len(name.strip()) > 100:
        raise _bad(_("A tag name can be at most 100 characters."))
    return tag_get_or_create(name=name)


def _person_for_tagging(key: ApiKey, data: dict) -> Person:
    """The person a tagging POST names: an osdi:person link, identifiers, or an email."""
    not_found = ApiError(404, _("Couldn't find the person to tag."))
    people = api_people(key)
    links = data.get("_links")
    if links is not None:
        link = links.get("osdi:person") if isinstance(links, dict) else None
        href = link.get("href") if isinstance(link, dict) else None
        if not isinstance(href, str):
            raise _bad(_("_links must hold osdi:person with an href."))
        match = re.search(r"/people/([^/?#]+)/?(?:[?#].*)?$", href)
        pk = match.group(1) if match else ""
        person = people.filter(pk=int(pk)).first() if pk.isdigit() and len(pk) < 18 else None
        if person is None:
            raise not_found
        return person
    person_data = data.get("person")
    if isinstance(person_data, dict):
        fields = person_fields(person_data)
        identifiers = fields.get("identifiers") or []
        own = [i for i in person_data.get("identifiers", []) if i.partition(":")[0] in OWN_SYSTEMS]
        for ident in own:
            value = ident.partition(":")[2]
            if value.isdigit() and len(value) < 18:
                person = people.filter(pk=int(value)).first()
                if person is not None:
                    return person
        try:
            email_n = normalise_email(fields.get("email"))
        except InvalidEmail:
            email_n = ""
        found = person_find(
            email=email_n,
            phone=fields.get("phone", ""),
            identifier=identifiers[0] if identifiers else None,
        )
        if found is not None and people.filter(pk=found.pk).exists():
            return found
        raise not_found
    raise _bad(
        _("Name the person with _links osdi:person, or person with identifiers or email_addresses.")
    )


@transaction.atomic
def tagging_api_create(*, key: ApiKey, tag: Tag, data: Any) -> Tagging:
    if not isinstance(data, dict):
        raise _bad(_("The body must be a JSON object."))
    person = _person_for_tagging(key, data)
    tag_add(person=person, tag=tag, actor=key.owner)
    return Tagging.objects.select_related("person", "tag").get(person=person, tag=tag)


def tagging_api_delete(*, key: ApiKey, tagging: Tagging) -> None:
    tag_remove(person=tagging.person, tag=tagging.tag, actor=key.owner)


def validation_error_body(exc: ValidationError) -> dict[str, Any]:
    """A ValidationError from the people services as an API error body."""
    if hasattr(exc, "error_dict"):
        errors = {
            OSDI_ERROR_FIELDS.get(k, k): " ".join(str(m) for m in v)
            for k, v in exc.message_dict.items()
        }
        return {"error": " ".join(errors.values()), "errors": errors}
    return {"error": " ".join(str(m) for m in exc.messages)}


# --- Background writes (``?background_processing=true``, see ``background.py``) ------


@background.writer("people.signup", resource="people")
def _signup_later(key: ApiKey, *, data: Any) -> None:
    person_signup(key=key, data=data)


@background.writer("people.update", resource="people")
def _person_update_later(key: ApiKey, *, person_id: int, data: Any) -> None:
    from .selectors import api_person

    person_api_update(key=key, person=api_person(key, person_id), data=data)


@background.writer("tags.tagging", resource="tags")
def _tagging_later(key: ApiKey, *, tag_id: int, data: Any) -> None:
    from .selectors import api_tag

    if not key.allows("people"):
        raise ApiError(403, _("This API key may not use people."))
    tagging_api_create(key=key, tag=api_tag(tag_id), data=data)
