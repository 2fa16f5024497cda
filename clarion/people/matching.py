"""The matching and merging rules for people, written once.

``services.person_upsert`` (one input at a time, against the database) and the bulk
import's planner (``imports.services``: a chunk of rows, against dictionaries it loaded)
both decide here who an input is and what it changes, so the two cannot drift apart
(``tests/test_imports.py`` replays a file both ways and compares every person).

Nothing here touches the database. Callers pass look-ups (``by_email`` ...) and a
``locate`` for postcodes, and hold whatever locks they need around the call.

The rules:

- **Matching order**: normalised email (primary or other), then E.164 phone, then
  external identifier (system, value). A public form matches by email only, or by phone
  when it gives no email (``match_keys``).
- **Blank never erases**: an empty value leaves the stored one alone; a given value
  fills or replaces name, address, town, postcode and each custom field.
- **Email and phone**: a given address fills an empty primary; one that differs from
  the primary is kept as one of the person's other addresses (likewise phones).
- **Email status** changes only when a status is given and differs.
- **Custom fields** merge key by key; a value of ``None`` (an empty cell) is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.utils.translation import gettext as _

from .models import EmailStatus

PROFILE_FIELDS = ("first_name", "last_name", "address_line1", "address_line2", "town")

# The stored values the rules read and write, as ``merge`` and ``new_values`` key them.
STATE_FIELDS = (
    "email",
    "phone",
    *PROFILE_FIELDS,
    "postcode",
    "area_id",
    "latitude",
    "longitude",
    "custom_fields",
    "email_status",
    "email_status_reason",
    "email_status_changed_at",
    "modified_at",
)

# (area_id, latitude, longitude) of a postcode; all None for one that is not mapped.
Place = tuple[Any, Any, Any]
NOWHERE: Place = (None, None, None)


class Details(Protocol):
    """What an input says about a person, already normalised; "" (or None for the
    status) means not given. ``imports.parsing.CleanRow`` is one; ``Given`` another."""

    email: str
    phone: str
    identifier: tuple[str, str] | None
    first_name: str
    last_name: str
    address_line1: str
    address_line2: str
    town: str
    postcode: str
    custom: dict[str, Any]
    email_status: str | None


@dataclass(slots=True)
class Given:
    """``Details`` of one ``person_upsert`` call."""

    email: str = ""
    phone: str = ""
    identifier: tuple[str, str] | None = None
    first_name: str = ""
    last_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    town: str = ""
    postcode: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    email_status: str | None = None


@dataclass(slots=True)
class Merge:
    """What ``merge`` did: the stored fields it changed (in the order timeline entries
    name them), and an email / phone to keep as one of the person's others ("" if
    none). Recording those two is the caller's: it knows whether they already are."""

    changed: list[str]
    other_email: str = ""
    other_phone: str = ""


def match_keys(
    *, email: str, phone: str, identifier: tuple[str, str] | None, public: bool
) -> tuple[str, str, tuple[str, str] | None]:
    """The keys an input may be matched by. A public form never matches by identifier,
    and by phone only when it gives no email, so a typed phone never attaches an email
    address to somebody else's record."""
    if public:
        return email, ("" if email else phone), None
    return email, phone, identifier


def match(
    *,
    email: str,
    phone: str,
    identifier: tuple[str, str] | None,
    by_email: Callable[[str], Any],
    by_phone: Callable[[str], Any],
    by_identifier: Callable[[tuple[str, str]], Any],
) -> Any:
    """The first person found by email, then phone, then identifier, or None. Each
    ``by_`` look-up returns a person (or whatever stands for one) or None."""
    if email:
        found = by_email(email)
        if found is not None:
            return found
    if phone:
        found = by_phone(phone)
        if found is not None:
            return found
    if identifier:
        return by_identifier(identifier)
    return None


def new_values(details: Details, *, place: Place, now, reason: str = "") -> dict[str, Any]:
    """The stored values (``STATE_FIELDS``) of a person created from ``details``;
    ``place`` is where their postcode is (``NOWHERE`` if none). The status is "none"
    unless one is given, and then it is dated ``now``."""
    status = details.email_status
    return {
        "email": details.email or None,
        "phone": details.phone,
        "first_name": details.first_name,
        "last_name": details.last_name,
        "address_line1": details.address_line1,
        "address_line2": details.address_line2,
        "town": details.town,
        "postcode": details.postcode,
        "area_id": place[0],
        "latitude": place[1],
        "longitude": place[2],
        "custom_fields": {k: v for k, v in details.custom.items() if v is not None},
        "email_status": status or EmailStatus.NONE.value,
        "email_status_reason": reason[:200] if status is not None else "",
        "email_status_changed_at": now if status is not None else None,
        "modified_at": now,
    }


def merge(
    stored: dict[str, Any],
    details: Details,
    *,
    locate: Callable[[str], Place],
    now,
    reason: str = "",
) -> Merge:
    """Apply ``details`` to ``stored`` (a person's ``STATE_FIELDS``, changed in place)
    by the rules above; returns what changed. ``locate`` is called only for a postcode
    that changes. ``modified_at`` is set when anything did."""
    changed = profile_fill(stored, details)
    other_email = other_phone = ""
    email = details.email
    if email and not stored["email"]:
        stored["email"] = email
        changed.append("email")
    elif email and stored["email"] != email:
        other_email = email
    phone = details.phone
    if phone and not stored["phone"]:
        stored["phone"] = phone
        changed.append("phone")
    elif phone and stored["phone"] != phone:
        other_phone = phone
    changed += place_fill(stored, details, locate)
    if status_take(stored, details.email_status, reason=reason, now=now):
        changed.append("email_status")
    if changed:
        stored["modified_at"] = now
    return Merge(changed, other_email, other_phone)


def profile_fill(stored: dict[str, Any], details: Details) -> list[str]:
    """Fill or replace name, address and town from the given (non-blank) values of
    ``details``; returns the names of the fields changed."""
    changed = []
    for name in PROFILE_FIELDS:
        value = getattr(details, name)
        if value and stored[name] != value:
            stored[name] = value
            changed.append(name)
    return changed


def place_fill(
    stored: dict[str, Any], details: Details, locate: Callable[[str], Place]
) -> list[str]:
    """Take a given postcode that differs (and where it is), then each given custom
    field value that differs; returns "postcode" and "custom:<key>" names changed.
    ``stored["custom_fields"]`` is replaced, never changed in place, so a caller's
    other references to the old dictionary stay as they were."""
    changed = []
    postcode = details.postcode
    if postcode and stored["postcode"] != postcode:
        stored["postcode"] = postcode
        stored["area_id"], stored["latitude"], stored["longitude"] = locate(postcode)
        changed.append("postcode")
    for key, value in details.custom.items():
        if value is not None and stored["custom_fields"].get(key) != value:
            stored["custom_fields"] = {**stored["custom_fields"], key: value}
            changed.append(f"custom:{key}")
    return changed


def status_take(stored: dict[str, Any], status: str | None, *, reason: str, now) -> bool:
    """Set the email status when one is given and differs (with ``reason`` and the
    time); returns whether it changed. No status given leaves it as it is."""
    if status is None or status == stored["email_status"]:
        return False
    stored["email_status"] = status
    stored["email_status_reason"] = reason[:200]
    stored["email_status_changed_at"] = now
    return True


def details_summary(changed: list[str]) -> str | None:
    """The "Details changed" timeline text for ``changed``, or None when only the email
    status changed (that has its own entry, ``status_summary``)."""
    fields = [f for f in changed if f != "email_status"]
    if not fields:
        return None
    return _("Details changed: %(fields)s") % {"fields": ", ".join(fields)}


def status_summary(status: str) -> str:
    """The timeline text of an email status change."""
    return str(_("Email status: %(status)s") % {"status": EmailStatus(status).label})


def stored_of(obj: Any) -> dict[str, Any]:
    """``STATE_FIELDS`` of a Person instance, for ``merge``."""
    return {name: getattr(obj, name) for name in STATE_FIELDS}
