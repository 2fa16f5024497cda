"""Which timeline entries earn engagement points, and under which category.

The people app records one coarse ``Activity.kind`` per entry (action, event,
donation…); what a person actually did sits in the entry's ``data``. This module is
the single definition of that mapping, written twice: ``classify`` (Python, for the
incremental fold of one entry) and ``category_sql`` (SQL, for the set-based
recompute over the whole table). Change both together; ``tests/test_recompute.py``
checks that they agree on every shape of entry the apps write.

Rules (an entry earns at most one category):

- ``action``: an ACTION entry whose submission counts (``status`` "confirmed"); a
  double-opt-in signature earns its points when it is confirmed, once.
- ``donate``: a DONATION entry for a gift that succeeded or was recorded from
  another system (not refunds, not a plan being stopped).
- ``rsvp``: an EVENT entry that leaves an RSVP going (new, promoted from the waiting
  list, or changed while going); ``attend``: a check-in as attended; ``host``: a
  member proposing (hosting) an event; ``conversation``: a canvass or phone-bank
  contact whose outcome was "spoke".
- ``question``: a question asked in a live Q&A; ``group``: joining a local group;
  ``joined``: joining the database.
- ``recruit``: a share that recruited — the *recruiter* earns it when someone they
  brought in joins (read from ``Person.recruiter``, which merges keep right).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Category:
    code: int  # stored nowhere but in the recompute's SQL; stable within one run
    key: str  # the name in weights and the score row's column
    label: Any
    default_points: int


CATEGORIES: tuple[Category, ...] = (
    Category(1, "action", _("Took action on a page (signed, pledged, wrote)"), 3),
    Category(2, "recruit", _("Shared and brought someone in"), 8),
    Category(3, "donate", _("Gave money"), 5),
    Category(4, "rsvp", _("RSVP'd to an event"), 5),
    Category(5, "attend", _("Came to an event"), 15),
    Category(6, "host", _("Hosted an event"), 30),
    Category(7, "conversation", _("Spoke with a canvasser or phone banker"), 2),
    Category(8, "question", _("Asked a question in a live Q&A"), 2),
    Category(9, "group", _("Joined a local group"), 5),
    Category(10, "joined", _("Joined the database"), 0),
)
# The recompute looks points up by code in an array: codes are 1, 2, … in this order.
assert [c.code for c in CATEGORIES] == list(range(1, len(CATEGORIES) + 1))
CATEGORY_KEYS: tuple[str, ...] = tuple(c.key for c in CATEGORIES)
BY_KEY = {c.key: c for c in CATEGORIES}


def classify(kind: str, data: dict | None) -> str | None:
    """The category an entry of ``kind`` with ``data`` earns, or None (``recruit`` is
    not an entry of the recruiter's own: see ``services.activity_fold``)."""
    data = data if isinstance(data, dict) else {}
    if kind == "action":
        return "action" if data.get("status") == "confirmed" else None
    if kind == "donation":
        return "donate" if data.get("event") in ("succeeded", "recorded") else None
    if kind == "event":
        if data.get("attendance") is not None:
            return "attend" if data.get("attendance") == "attended" else None
        if data.get("rsvp") is not None:
            return "rsvp" if data.get("status") == "going" else None
        if data.get("canvass") is not None:
            return "conversation" if data.get("outcome") == "spoke" else None
        if data.get("host_message") is not None:
            return None
        return "host" if data.get("event") is not None else None
    if kind == "question":
        return "question"
    if kind == "other":
        return "group" if data.get("area") is not None and data.get("code") is not None else None
    if kind == "created":
        return "joined"
    return None


def _json(vendor: str, key: str) -> str:
    """The text of ``data[key]`` (NULL when absent or JSON null). ``key`` comes from this
    module's constants only, never from input."""
    if vendor == "postgresql":
        return f"(a.data ->> '{key}')"
    return f"json_extract(a.data, '$.{key}')"


def category_sql(vendor: str) -> str:
    """A CASE expression over ``people_activity a`` giving each entry's category code
    (NULL for none): the SQL twin of ``classify``."""
    j = lambda key: _json(vendor, key)  # noqa: E731
    code = {c.key: c.code for c in CATEGORIES}
    return f"""CASE
      WHEN a.kind = 'action' THEN CASE WHEN {j("status")} = 'confirmed' THEN {code["action"]} END
      WHEN a.kind = 'donation' THEN
        CASE WHEN {j("event")} IN ('succeeded', 'recorded') THEN {code["donate"]} END
      WHEN a.kind = 'event' THEN CASE
        WHEN {j("attendance")} IS NOT NULL THEN
          CASE WHEN {j("attendance")} = 'attended' THEN {code["attend"]} END
        WHEN {j("rsvp")} IS NOT NULL THEN
          CASE WHEN {j("status")} = 'going' THEN {code["rsvp"]} END
        WHEN {j("canvass")} IS NOT NULL THEN
          CASE WHEN {j("outcome")} = 'spoke' THEN {code["conversation"]} END
        WHEN {j("host_message")} IS NOT NULL THEN NULL
        WHEN {j("event")} IS NOT NULL THEN {code["host"]}
      END
      WHEN a.kind = 'question' THEN {code["question"]}
      WHEN a.kind = 'other' THEN
        CASE WHEN {j("area")} IS NOT NULL AND {j("code")} IS NOT NULL THEN {code["group"]} END
      WHEN a.kind = 'created' THEN {code["joined"]}
    END"""


SCORED_KINDS = ("action", "donation", "event", "question", "other", "created")
