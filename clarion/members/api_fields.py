"""``clarion:membership`` on the API's person documents: read by every key, changed
only by an admin's key, through the membership lifecycle services (``membership``).

Registered with ``api.person_extras`` in ``MembersConfig.ready()`` (the API sits below
members and never imports it). The value is ``null`` for someone who never had a
membership, otherwise::

    {"status": "active", "number": 1042, "type": "Standard",
     "joined_on": "2025-04-01", "renews_on": "2026-04-01", "pays_by": "manual"}

Writing (``PUT /people/{id}`` or the signup helper's ``person``): the fields given
change, the others stay. A value equal to what is stored changes nothing and needs no
admin, so a client may send back a document as it read it. For someone without a
membership the API makes one paid by hand (``manual``): with ``number``, as an import
of a membership kept elsewhere (the counter moves past it); without, as a join (the
next number). An existing membership's status, type and renewal date change as a staff
change does, audited with the key as the reason; its number, joining date and way of
paying are fixed here (a number is for life; card and Direct Debit are set up by the
payment side). Every refusal is a 400 or 403 naming the field, and since the write runs
inside the person write's transaction, nothing of either is kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.api.errors import ApiError
from clarion.api.person_extras import ExtraPersonField
from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.people.models import Person

from . import membership as lifecycle
from .models import Membership, MembershipType

NAME = "clarion:membership"
KEYS = ("status", "number", "type", "joined_on", "renews_on", "pays_by")

_DATE = {"type": "string", "format": "date", "nullable": True}
SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": (
        "The person's membership (null if they never had one). Every key reads it; only "
        "an admin's key may change it."
    ),
    "properties": {
        "status": {"type": "string", "enum": list(Membership.Status.values)},
        "number": {"type": "integer"},
        "type": {"type": "string", "description": "The membership type's name."},
        "joined_on": _DATE,
        "renews_on": _DATE,
        "pays_by": {"type": "string", "enum": list(Membership.PaysBy.values)},
    },
}


def _document(row: dict) -> dict:
    return {
        "status": row["status"],
        "number": row["number"],
        "type": row["membership_type__name"],
        "joined_on": row["joined_on"].isoformat() if row["joined_on"] else None,
        "renews_on": row["renews_on"].isoformat() if row["renews_on"] else None,
        "pays_by": row["pays_by"],
    }


_COLUMNS = (
    "person_id",
    "status",
    "number",
    "membership_type__name",
    "joined_on",
    "renews_on",
    "pays_by",
)


def memberships_read(people: Sequence[Person]) -> dict[int, dict]:
    """The ``clarion:membership`` value of each of ``people`` that has a membership:
    one query for the whole batch."""
    rows = Membership.objects.filter(person_id__in=[p.pk for p in people]).values(*_COLUMNS)
    return {row["person_id"]: _document(row) for row in rows}


# --- Writing ---------------------------------------------------------------------------


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, message, extra={"errors": {f"{NAME}.{field}": message}})


def _date(value: Any, field: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise _bad(field, _("%(field)s must be a date like 2025-04-01.") % {"field": field})


def _given(value: Any) -> dict[str, Any]:
    """The fields of ``value`` a client sent, checked and converted (dates as dates,
    the type as a ``MembershipType``). Raises ApiError(400)."""
    if not isinstance(value, dict):
        raise ApiError(400, _("%(name)s must be an object or null.") % {"name": NAME})
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ApiError(
            400,
            _("Unknown %(name)s fields: %(names)s. The fields are: %(known)s.")
            % {"name": NAME, "names": ", ".join(unknown[:10]), "known": ", ".join(KEYS)},
        )
    out: dict[str, Any] = {}
    if "status" in value:
        if value["status"] not in Membership.Status.values:
            raise _bad(
                "status",
                _("status must be one of: %(values)s.")
                % {"values": ", ".join(Membership.Status.values)},
            )
        out["status"] = value["status"]
    if "number" in value:
        number = value["number"]
        if isinstance(number, str) and number.strip().isdigit():
            number = int(number.strip())
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 2**62:
            raise _bad("number", _("number must be a whole number of 1 or more."))
        out["number"] = number
    if "type" in value:
        name = value["type"]
        found = (
            MembershipType.objects.filter(name__iexact=name.strip()).first()
            if isinstance(name, str) and name.strip()
            else None
        )
        if found is None:
            known = ", ".join(
                MembershipType.objects.order_by("order", "name").values_list("name", flat=True)
            )
            raise _bad(
                "type",
                _("Unknown membership type %(name)s. The types are: %(known)s.")
                % {"name": str(name)[:100], "known": known or _("none yet")},
            )
        out["type"] = found
    for field in ("joined_on", "renews_on"):
        if field in value:
            out[field] = _date(value[field], field)
    if "pays_by" in value:
        if value["pays_by"] not in Membership.PaysBy.values:
            raise _bad(
                "pays_by",
                _("pays_by must be one of: %(values)s.")
                % {"values": ", ".join(Membership.PaysBy.values)},
            )
        out["pays_by"] = value["pays_by"]
    return out


def _current(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {
        "status": membership.status,
        "number": membership.number,
        "type": membership.membership_type,
        "joined_on": membership.joined_on,
        "renews_on": membership.renews_on,
        "pays_by": membership.pays_by,
    }


def _as_validation(exc: ValidationError) -> ApiError:
    """A lifecycle service's refusal as a 400 naming the membership's fields."""
    if hasattr(exc, "error_dict"):
        errors = {f"{NAME}.{k}": " ".join(str(m) for m in v) for k, v in exc.message_dict.items()}
        return ApiError(400, " ".join(errors.values()), extra={"errors": errors})
    return ApiError(400, " ".join(str(m) for m in exc.messages))


def membership_api_write(*, person: Person, value: Any, actor, admin: bool, reason: str) -> None:
    """Store the ``clarion:membership`` a client sent for ``person`` (see the module
    docstring). Runs inside the caller's transaction; raises ApiError (400 or 403), so
    the caller's whole write rolls back."""
    membership = (
        Membership.objects.select_related("membership_type").filter(person_id=person.pk).first()
    )
    if membership is not None:
        membership.person = person
    current = _current(membership)
    if value is None:
        if current is None:
            return
        raise ApiError(
            400,
            _("A membership cannot be removed; to end it, set %(name)s.status to cancelled.")
            % {"name": NAME},
        )
    given = _given(value)
    if current is not None and all(current[k] == v for k, v in given.items()):
        return
    if not admin:
        raise ApiError(403, _("Only an admin's API key may change a membership."))
    try:
        if current is None:
            _create(person=person, given=given, actor=actor, reason=reason)
        else:
            _change(membership=membership, current=current, given=given, actor=actor, reason=reason)
    except ValidationError as exc:
        raise _as_validation(exc) from None


def _create(*, person: Person, given: dict[str, Any], actor, reason: str) -> None:
    membership_type = given.get("type")
    if membership_type is None:
        raise _bad("type", _("Give the membership type (type) to make someone a member."))
    if given.get("pays_by", Membership.PaysBy.MANUAL) != Membership.PaysBy.MANUAL:
        raise _bad(
            "pays_by",
            _(
                "A membership made through the API is paid by hand (manual); card and "
                "Direct Debit memberships start on the Join page."
            ),
        )
    joined_on = given.get("joined_on") or timezone.localdate()
    status = given.get("status", Membership.Status.ACTIVE)
    if "renews_on" in given:
        renews_on = given["renews_on"]
    elif status in (Membership.Status.ACTIVE, Membership.Status.GRACE):
        renews_on = lifecycle.add_period(joined_on, membership_type.period)
    else:
        renews_on = None
    if "number" in given:
        made = lifecycle.membership_import_row(
            person=person,
            membership_type=membership_type,
            number=given["number"],
            renews_on=renews_on,
            status=status,
            actor=actor,
            joined_on=joined_on,
        )
        # An import is not audited on its own (a file is, as a whole); this one is.
        audit_record(
            actor=actor,
            action=AuditEntry.Action.OTHER,
            summary=_("Membership %(number)s recorded: %(reason)s")
            % {"number": made.number, "reason": reason},
            object_type="person",
            object_id=person.pk,
            detail={"membership": "imported", "status": made.status, "type": membership_type.name},
        )
        return
    made = lifecycle.membership_join(
        person=person,
        membership_type=membership_type,
        pays_by=Membership.PaysBy.MANUAL,
        started_at=joined_on,
        actor=actor,
    )
    if made.status != status or made.renews_on != renews_on:
        lifecycle.membership_staff_change(
            membership=made,
            actor=actor,
            reason=reason,
            status=status,
            membership_type=membership_type,
            renews_on=renews_on,
        )


def _change(
    *, membership: Membership, current: dict[str, Any], given: dict[str, Any], actor, reason: str
) -> None:
    fixed = {
        "number": _("A membership number is for life; it cannot be changed."),
        "joined_on": _("The joining date of an existing membership cannot be changed here."),
        "pays_by": _(
            "How an existing membership is paid changes when the member pays another way "
            "(the Join page), not here."
        ),
    }
    for field, message in fixed.items():
        if field in given and given[field] != current[field]:
            raise _bad(field, message)
    lifecycle.membership_staff_change(
        membership=membership,
        actor=actor,
        reason=reason,
        status=given.get("status", current["status"]),
        membership_type=given.get("type", current["type"]),
        renews_on=given["renews_on"] if "renews_on" in given else current["renews_on"],
    )


FIELD = ExtraPersonField(
    name=NAME, read=memberships_read, write=membership_api_write, schema=SCHEMA
)
