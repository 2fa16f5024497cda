"""Importing people from CSV in bulk, with the matching rules of ``person_upsert``.

``people_import_rows`` takes cleaned rows (see ``parsing.RowCleaner``) and writes them
in batches. Each batch:

1. looks up, in a few queries, every existing person the batch's emails, phones and
   external ids refer to;
2. replays the rows in file order against an in-memory picture of those people and of
   the people the batch creates, applying exactly the rules of
   ``clarion.people.services.person_upsert`` (email, then phone, then external id;
   blank cells never erase; status changes only when a column says so; a second row
   for the same person updates it);
3. writes the result in one transaction: new people, changed people, their other
   emails/phones/ids, tags, lists and timeline entries together, so a crash leaves
   no half-written person.

On PostgreSQL (``pgwrite``) steps 1 and 3 are set-based SQL around COPY, a few
statements per chunk of 200,000 rows, and only step 2's dictionary work is per row in
Python; elsewhere bulk ORM calls. There a file is also pipelined
(``_ImportRun.run_pipelined``): the reading thread reads, prepares and looks up the
next chunk (``_prepare``, ``_Early``) while the writer's connection writes this one.
If a concurrent writer got in first (a unique email taken between look-up and write),
the batch is rolled back to its savepoint and replayed row by row through
``person_upsert``, which handles races.

Organisers import within their area: a row is rejected ("outside your area") when it
would create a person whose postcode is not inside the organiser's subtree (or who has
no mapped postcode, since such a person would be visible to national staff only), or
when it matches an existing person outside the subtree, or would move one out of it.
So an import can neither read nor overwrite people out of scope.
"""

from __future__ import annotations

import csv
import gc
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.models import Area, Postcode
from clarion.core.services import audit_record
from clarion.people import matching
from clarion.people import services as people_services
from clarion.people.matching import STATE_FIELDS
from clarion.people.models import (
    Activity,
    ImportJob,
    ListMembership,
    Person,
    PersonEmail,
    PersonIdentifier,
    PersonList,
    PersonPhone,
    Tag,
    Tagging,
)

from . import pgwrite
from .parsing import CleanRow, RejectedRow, RowCleaner, csv_open, custom_field_defs, mapping_guess

log = logging.getLogger(__name__)

ORM_BATCH = 2000
# A chunk is one transaction: large enough that per-chunk statements cost nothing per
# row, small enough to keep memory and the replay-on-race fallback bounded.
PG_BATCH = 200_000
# The first chunk is small so the writer starts while the rest is still read; then each
# chunk is at most PG_GROWTH times the one before. Reading and preparing a row costs
# about a third of writing it, so the next chunk is read by the time the writer is done
# with this one: it never waits for rows after the first chunk (going from 20,000
# straight to 200,000 left it idle ~2.5 s of a 1M-row import).
PG_FIRST_BATCH = 20_000
PG_GROWTH = 3


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    # Matched an existing person and changed nothing about them.
    unchanged: int = 0
    rejected: int = 0
    processed: int = 0
    warned: int = 0


@dataclass
class ImportContext:
    actor: Any = None
    scope_area: Area | None = None
    tags: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    job_id: int | None = None
    _tag_cache: dict[str, Tag] = field(default_factory=dict)
    _list_cache: dict[str, PersonList] = field(default_factory=dict)
    _scope_ids: set[int] | None = None

    def scope_ids(self) -> set[int] | None:
        if self.scope_area is None:
            return None
        if self._scope_ids is None:
            self._scope_ids = set(
                Area.objects.filter(path__startswith=self.scope_area.path).values_list(
                    "pk", flat=True
                )
            )
        return self._scope_ids

    def tag(self, name: str) -> Tag:
        key = name.lower()
        if key not in self._tag_cache:
            self._tag_cache[key] = people_services.tags_by_name([name])[0]
        return self._tag_cache[key]

    def plist(self, name: str) -> PersonList:
        key = name.lower()
        if key not in self._list_cache:
            self._list_cache[key] = people_services.lists_by_name([name])[0]
        return self._list_cache[key]

    @property
    def actor_id(self) -> int | None:
        return getattr(self.actor, "pk", None)


class _State:
    """One person as the batch sees them: loaded from the database or new."""

    __slots__ = (
        "pid",
        "seq",
        "vals",
        "new",
        "queued",
        "staged",
        "_dirty",
        "_tag_ids",
        "_list_ids",
    )

    def __init__(self, pid: int | None, seq: int, vals: dict[str, Any], new: bool) -> None:
        self.pid = pid
        self.seq = seq
        self.vals = vals
        self.new = new
        self.queued = False  # in plan.changed
        # A new person's staging row (``pgwrite.staging_row``) made with ``vals`` before
        # the replay, or None once a later row changed them (made again when staged).
        self.staged: tuple | None = None
        # Made on first use: most people of a big file never need them.
        self._dirty: set[str] | None = None
        self._tag_ids: set[int] | None = None
        self._list_ids: set[int] | None = None

    @property
    def dirty(self) -> set[str]:
        if self._dirty is None:
            self._dirty = set()
        return self._dirty

    @property
    def tag_ids(self) -> set[int]:
        if self._tag_ids is None:
            self._tag_ids = set()
        return self._tag_ids

    @property
    def list_ids(self) -> set[int]:
        if self._list_ids is None:
            self._list_ids = set()
        return self._list_ids

    def order(self) -> tuple[int, int]:
        # Existing people come before new ones in primary-key order.
        return (0, self.pid) if not self.new else (1, self.seq)


@dataclass
class _Plan:
    rows: list[CleanRow]
    new: list[_State] = field(default_factory=list)
    changed: list[_State] = field(default_factory=list)
    other_emails: list[tuple[_State, str]] = field(default_factory=list)
    other_phones: list[tuple[_State, str]] = field(default_factory=list)
    identifiers: list[tuple[_State, str, str]] = field(default_factory=list)
    taggings: list[tuple[_State, int]] = field(default_factory=list)
    listings: list[tuple[_State, int]] = field(default_factory=list)
    activities: list[tuple[_State, str, str, dict]] = field(default_factory=list)
    rejects: list[RejectedRow] = field(default_factory=list)
    phone_keys: set = field(default_factory=set)
    joined_summary: str = ""
    joined_data: dict = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _writes(plan: _Plan) -> tuple[int, ...]:
    """How much ``plan`` would write so far: a row that adds nothing left it alone."""
    return (
        len(plan.activities),
        len(plan.other_emails),
        len(plan.other_phones),
        len(plan.identifiers),
        len(plan.taggings),
        len(plan.listings),
    )


def _lookup(rows: list[CleanRow]):
    """Existing matches for the batch's keys, in the precedence person_find uses."""
    if connection.vendor == "postgresql":
        return pgwrite.lookup(rows)
    emails = list({r.email for r in rows if r.email})
    phones = list({r.phone for r in rows if r.phone})
    idents: dict[str, set[str]] = {}
    for r in rows:
        if r.identifier:
            idents.setdefault(r.identifier[0], set()).add(r.identifier[1])
    prim_email: dict[str, int] = {}
    other_email: dict[str, int] = {}
    prim_phone: dict[str, int] = {}
    other_phone: dict[str, int] = {}
    ident: dict[tuple[str, str], int] = {}
    if emails:
        prim_email = dict(Person.objects.filter(email__in=emails).values_list("email", "pk"))
        other_email = dict(
            PersonEmail.objects.filter(email__in=emails).values_list("email", "person_id")
        )
    if phones:
        for number, pk in (
            Person.objects.filter(phone__in=phones).order_by("-pk").values_list("phone", "pk")
        ):
            prim_phone[number] = pk  # the lowest pk is written last
        for number, pid in (
            PersonPhone.objects.filter(number__in=phones)
            .order_by("-pk")
            .values_list("number", "person_id")
        ):
            other_phone[number] = pid
    for system, values in idents.items():
        for value, pid in PersonIdentifier.objects.filter(
            system=system, value__in=list(values)
        ).values_list("value", "person_id"):
            ident[(system, value)] = pid
    return prim_email, other_email, prim_phone, other_phone, ident


@dataclass(slots=True)
class _Prepared:
    """What a chunk's replay needs that does not depend on who is in the database:
    where its postcodes are, and for each row the stored values (and the staging row)
    of a person created from it. ``_prepare`` makes it on the reading thread while the
    writer's database works on the chunk before, so the writer, the critical path, is
    left with the matching itself.

    The values carry no time: the replay dates them when the chunk is written (so
    ``modified_at`` is no earlier than it would be without the preparing), and a row
    with an email status, whose staging row holds that time, gets no staging row."""

    places: dict[str, matching.Place]
    fresh: list[tuple[dict[str, Any], tuple | None]]
    early: _Early | None = None


# The keys (emails, phones, identifiers) of a chunk, as ``pgwrite.keys_of`` gives them.
Keys = tuple[set[str], set[str], set[tuple[str, str]]]
NO_KEYS: Keys = (set(), set(), set())


@dataclass(slots=True)
class _Early:
    """A chunk's look-ups, made on the reading thread's connection while the writer
    was still writing the chunk before (PostgreSQL, pipelined imports only).

    Every chunk before that one had committed, so the only answers that can be out of
    date are for keys the chunk being written also has: an import only ever adds a
    key to somebody (a new person, a blank email or phone filled, another email or
    phone, an id), never takes one away. The writer looks those keys up again, in its
    own transaction, before the replay (``_found``). A person who was found early but
    is gone by then (erased or merged meanwhile) makes the writer look the whole chunk
    up again."""

    found: tuple[dict, dict, dict, dict, dict]
    keys: Keys


def _early_lookup(rows: list[CleanRow]) -> _Early:
    keys = pgwrite.keys_of(rows)
    # A transaction of its own: the look-up's planner settings are SET LOCAL.
    with transaction.atomic():
        found = pgwrite.lookup_keys(*keys, step_name="lookup (reading thread)")
    return _Early(found, keys)


def _found(rows: list[CleanRow], early: _Early | None, recent: Keys):
    """The chunk's matches as ``_lookup`` gives them: looked up now, or taken from
    ``early`` with the keys the last written chunk (``recent``) shares looked up
    again."""
    if early is None:
        return _lookup(rows)
    prim_email, other_email, prim_phone, other_phone, ident = (dict(d) for d in early.found)
    emails, phones, idents = (
        mine & theirs for mine, theirs in zip(early.keys, recent, strict=True)
    )
    if emails or phones or idents:
        again = pgwrite.lookup_keys(emails, phones, idents)
        for key in emails:
            prim_email.pop(key, None)
            other_email.pop(key, None)
        for key in phones:
            prim_phone.pop(key, None)
            other_phone.pop(key, None)
        for key in idents:
            ident.pop(key, None)
        for mine, fresh in zip(
            (prim_email, other_email, prim_phone, other_phone, ident), again, strict=True
        ):
            mine.update(fresh)
    return prim_email, other_email, prim_phone, other_phone, ident


def _prepare(rows: list[CleanRow], *, staging: bool) -> _Prepared:
    """``_Prepared`` for ``rows``; with ``staging`` (the COPY path) staging rows too. A
    row that turns out to match somebody simply leaves its values unused."""
    places = _load_places(rows)
    new_values, nowhere = matching.new_values, matching.NOWHERE
    stage = pgwrite.staging_row if staging else None
    fresh = []
    for row in rows:
        place = places.get(row.postcode, nowhere) if row.postcode else nowhere
        vals = new_values(row, place=place, now=None)
        staged = stage(vals) if stage is not None and row.email_status is None else None
        fresh.append((vals, staged))
    return _Prepared(places, fresh)


def _plan_batch(
    rows: list[CleanRow], ctx: ImportContext, now, prepared: _Prepared, recent: Keys = NO_KEYS
) -> _Plan:
    """Replay ``rows`` in order against the people they match; nothing is written.
    ``recent``: the keys of the chunk written last (see ``_Early``).

    On PostgreSQL the matched people's rows are locked (FOR UPDATE) until the caller's
    transaction commits, so nobody changes them under the replay."""
    return _Replay(rows, ctx, now, prepared, recent).run()


class _Replay:
    """One chunk replayed row by row, in file order, with the rules of
    ``clarion.people.matching`` (as ``person_upsert`` applies them), against the
    people the chunk's keys matched and the people earlier rows created.

    The indexes map an email, phone or identifier to a person id (loaded) or a
    ``_State`` (created or re-keyed by an earlier row), as ``person_find`` would see
    them after the earlier rows had been written."""

    def __init__(
        self,
        rows: list[CleanRow],
        ctx: ImportContext,
        now,
        prepared: _Prepared,
        recent: Keys = NO_KEYS,
    ) -> None:
        self.plan = _Plan(rows=rows)
        self.ctx = ctx
        self.now = now
        self.fresh = prepared.fresh
        found = _found(rows, prepared.early, recent)
        existing = _ids(found)
        self.states = _load_states(existing)
        if prepared.early is not None and len(self.states) != len(existing):
            # Somebody found early is gone (erased or merged meanwhile): start again.
            found = _lookup(rows)
            existing = _ids(found)
            self.states = _load_states(existing)
        prim_email, other_email, prim_phone, other_phone, ident = found
        self.prim_email: dict[str, Any] = dict(prim_email)
        self.other_email: dict[str, Any] = dict(other_email)
        self.prim_phone: dict[str, Any] = dict(prim_phone)
        self.other_phone: dict[str, Any] = dict(other_phone)
        self.ident: dict[tuple[str, str], Any] = dict(ident)
        self.tags, self.plists = _load_memberships(self.states, rows, ctx)
        self.places = prepared.places
        self.scope = ctx.scope_ids()
        self.outside = _(
            "Outside your area: you can only import people whose postcode is in your area."
        )
        self.seq = 0
        self.summaries: dict[tuple[str, ...], str | None] = {}
        self.plan.joined_summary = _("Joined the database")
        self.plan.joined_data = {"recruiter": None, "import": ctx.job_id}

    def run(self) -> _Plan:
        plan = self.plan
        # Bound once: this loop runs for every row of a file of millions.
        match, places = matching.match, self.places
        by_email, by_phone, by_identifier = self._by_email, self._by_phone, self.ident.get
        # Most files have no tags column and most imports no tag or list to add.
        every_row_attaches = bool(self.ctx.tags or self.plists)
        for row, fresh in zip(plan.rows, self.fresh, strict=True):
            ref = match(
                email=row.email,
                phone=row.phone,
                identifier=row.identifier,
                by_email=by_email,
                by_phone=by_phone,
                by_identifier=by_identifier,
            )
            place = places.get(row.postcode) if row.postcode else None
            if ref is None:
                if _out_of_scope(self.scope, row, place, stored=None):
                    plan.rejects.append(RejectedRow(row.line, self.outside, []))
                    continue
                state = self._create(row, fresh)
                if every_row_attaches or row.tags:
                    self._attach(state, row)
                continue
            state = self.states[ref] if isinstance(ref, int) else ref
            stored = (state.vals["area_id"], state.vals["postcode"])
            if _out_of_scope(self.scope, row, place, stored=stored):
                plan.rejects.append(RejectedRow(row.line, self.outside, []))
                continue
            before = _writes(plan)
            self._merge(state, row)
            if every_row_attaches or row.tags:
                self._attach(state, row)
            if _writes(plan) == before:
                plan.unchanged += 1
            else:
                plan.updated += 1
        return plan

    def _by_email(self, email: str) -> Any:
        return self.prim_email.get(email) or self.other_email.get(email)

    def _by_phone(self, phone: str) -> Any:
        return self.prim_phone.get(phone) or self.other_phone.get(phone)

    def _locate(self, postcode: str) -> matching.Place:
        return self.places.get(postcode) or matching.NOWHERE

    def _create(self, row: CleanRow, fresh: tuple[dict[str, Any], tuple | None]) -> _State:
        """A new person from ``row`` (nobody matched), with the values ``_prepare`` made
        for it, indexed by their keys so later rows of the chunk find them."""
        plan = self.plan
        self.seq += 1
        vals, state_staged = fresh
        # Dated now, as matching.new_values would have (the preparing left them blank).
        vals["modified_at"] = self.now
        if row.email_status is not None:
            vals["email_status_changed_at"] = self.now
        state = _State(None, self.seq, vals, new=True)
        state.staged = state_staged
        plan.new.append(state)
        plan.created += 1
        if row.email:
            self.prim_email[row.email] = state
        # An earlier holder of the number was created first, so keeps it (lowest id).
        if row.phone and row.phone not in self.prim_phone:
            self.prim_phone[row.phone] = state
        if row.identifier:
            plan.identifiers.append((state, *row.identifier))
            self.ident.setdefault(row.identifier, state)
        plan.activities.append(
            (state, Activity.Kind.CREATED, plan.joined_summary, plan.joined_data)
        )
        return state

    def _merge(self, state: _State, row: CleanRow) -> None:
        """Merge ``row`` into a matched person by ``matching.merge``; plan the other
        email, phone and identifier it brings and the timeline entries of what
        changed, and keep the indexes as ``person_find`` would then see them."""
        plan = self.plan
        merged = matching.merge(state.vals, row, locate=self._locate, now=self.now)
        changed = merged.changed
        if "email" in changed:
            self.prim_email[row.email] = state
        # As person_upsert's get_or_create: an address already held by anyone stays put.
        if merged.other_email and merged.other_email not in self.other_email:
            self.other_email[row.email] = state
            plan.other_emails.append((state, row.email))
        if "phone" in changed:
            current = self.prim_phone.get(row.phone)
            if current is None or state.order() < _order(current):
                self.prim_phone[row.phone] = state
        if merged.other_phone:
            self._other_phone(state, row.phone)
        if row.identifier and row.identifier not in self.ident:
            self.ident[row.identifier] = state
            plan.identifiers.append((state, *row.identifier))
        if changed:
            self._note_changes(state, changed)

    def _other_phone(self, state: _State, phone: str) -> None:
        """Plan ``phone`` as one of ``state``'s other numbers unless it already is
        (per person, as person_upsert's get_or_create)."""
        plan = self.plan
        key = (id(state), phone)
        held = self.other_phone.get(phone)
        if held is state or (held is not None and held == state.pid):
            plan.phone_keys.add(key)  # already one of this person's numbers
        if key not in plan.phone_keys:
            plan.phone_keys.add(key)
            plan.other_phones.append((state, phone))
            self.other_phone.setdefault(phone, state)

    def _note_changes(self, state: _State, changed: list[str]) -> None:
        """Mark the columns ``changed`` touches for writing, queue an existing person
        for the update, and plan the timeline entries ``person_upsert`` would write."""
        plan = self.plan
        state.staged = None  # its values changed since it was prepared
        dirty = state.dirty
        dirty.update(f for f in changed if not f.startswith("custom:"))
        if any(f.startswith("custom:") for f in changed):
            dirty.add("custom_fields")
        if "postcode" in changed:
            dirty.update(("area_id", "latitude", "longitude"))
        if "email_status" in changed:
            dirty.update(("email_status_reason", "email_status_changed_at"))
        dirty.add("modified_at")
        self._queue(state)
        # The same few lists of fields come back row after row: word each once.
        key = tuple(changed)
        if key in self.summaries:
            summary = self.summaries[key]
        else:
            summary = self.summaries[key] = matching.details_summary(changed)
        if summary is not None:
            plan.activities.append((state, Activity.Kind.IMPORTED, summary, {"fields": changed}))
        if "email_status" in changed:
            status = state.vals["email_status"]
            plan.activities.append(
                (
                    state,
                    Activity.Kind.EMAIL_STATUS,
                    matching.status_summary(status),
                    {"status": status, "reason": ""},
                )
            )

    def _queue(self, state: _State) -> None:
        """Put an existing person on the plan's update list (once)."""
        if not state.new and not state.queued:
            state.queued = True
            self.plan.changed.append(state)

    def _attach(self, state: _State, row: CleanRow) -> None:
        """Plan the row's and the import's tags and the import's lists that ``state``
        lacks, with their timeline entries; a new tag touches an existing person's
        modification time, as ``tag_add`` does."""
        plan, ctx = self.plan, self.ctx
        for name in [*row.tags, *ctx.tags]:
            key = name.lower()
            tag = self.tags[key] if key in self.tags else ctx.tag(name)
            if tag.pk in state.tag_ids:
                continue
            state.tag_ids.add(tag.pk)
            plan.taggings.append((state, tag.pk))
            summary = _("Tagged %(tag)s") % {"tag": tag.name}
            plan.activities.append((state, Activity.Kind.TAGGED, summary, {"tag": tag.pk}))
            if not state.new:
                state.vals["modified_at"] = self.now
                state.dirty.add("modified_at")
                self._queue(state)
        for plist in self.plists:
            if plist.pk in state.list_ids:
                continue
            state.list_ids.add(plist.pk)
            plan.listings.append((state, plist.pk))
            summary = _("Added to list %(name)s") % {"name": plist.name}
            plan.activities.append((state, Activity.Kind.LISTED, summary, {"list": plist.pk}))


def _ids(found) -> set[int]:
    """The person ids a look-up's five maps point at."""
    return {pid for found_map in found for pid in found_map.values()}


def _out_of_scope(
    scope: set[int] | None,
    row: CleanRow,
    place: matching.Place | None,
    *,
    stored: tuple[int | None, str] | None,
) -> bool:
    """Whether an organiser's import may not apply ``row``: it would create a person
    (``stored`` None) whose postcode is not mapped inside ``scope``, or it matched a
    person (``stored`` = their area id and postcode) outside it or would move them
    out. ``place`` is where the row's postcode is; no scope means national reach."""
    if scope is None:
        return False
    row_area = place[0] if place else None
    if stored is None:
        return row_area not in scope
    area_id, postcode = stored
    new_area = row_area if row.postcode and row.postcode != postcode else area_id
    return area_id not in scope or new_area not in scope


def _load_states(ids: set[int]) -> dict[int, _State]:
    """The stored values of people ``ids``; on PostgreSQL their rows are locked until
    the chunk commits, so nobody changes them under the replay."""
    states: dict[int, _State] = {}
    if ids and connection.vendor == "postgresql":
        for pid, vals in pgwrite.people_for_update(sorted(ids), STATE_FIELDS):
            states[pid] = _State(pid, 0, vals, new=False)
    elif ids:
        for vals in Person.objects.filter(pk__in=ids).values("pk", *STATE_FIELDS):
            pid = vals.pop("pk")
            states[pid] = _State(pid, 0, vals, new=False)
    return states


def _load_memberships(
    states: dict[int, _State], rows: list[CleanRow], ctx: ImportContext
) -> tuple[dict[str, Tag], list[PersonList]]:
    """The chunk's tags (by lower-case name) and the import's lists, created if new;
    notes on each loaded person which of them they already have."""
    row_tags = {name for r in rows for name in r.tags} | set(ctx.tags)
    tags = {name.lower(): ctx.tag(name) for name in row_tags}
    plists = [ctx.plist(name) for name in ctx.lists]
    for model, column, wanted, attr in (
        (Tagging, "tag_id", [t.pk for t in tags.values()], "tag_ids"),
        (ListMembership, "list_id", [p.pk for p in plists], "list_ids"),
    ):
        if not (states and wanted):
            continue
        if connection.vendor == "postgresql":
            pairs = pgwrite.pairs_of(model._meta.db_table, column, list(states), wanted)
        else:
            pairs = model.objects.filter(
                person_id__in=list(states), **{f"{column}__in": wanted}
            ).values_list("person_id", column)
        for pid, other in pairs:
            getattr(states[pid], attr).add(other)
    return tags, plists


def _load_places(rows: list[CleanRow]) -> dict[str, matching.Place]:
    """Where each of the chunk's mapped postcodes is (unmapped ones are absent)."""
    postcodes = {r.postcode for r in rows if r.postcode}
    if not postcodes:
        return {}
    return {
        pc: (area_id, lat, lng)
        for pc, area_id, lat, lng in Postcode.objects.filter(
            postcode__in=list(postcodes)
        ).values_list("postcode", "area_id", "latitude", "longitude")
    }


def _order(ref: Any) -> tuple[int, int]:
    return (0, ref) if isinstance(ref, int) else ref.order()


# --- writing a plan -------------------------------------------------------------------


def _write_orm(plan: _Plan, ctx: ImportContext, now) -> None:
    people = []
    for state in plan.new:
        person = Person(share_code=people_services.new_share_code(), created_at=now, **state.vals)
        people.append(person)
    Person.objects.bulk_create(people, batch_size=ORM_BATCH)
    for state, person in zip(plan.new, people, strict=True):
        state.pid = person.pk
    if plan.changed:
        fields = sorted({f for s in plan.changed for f in s.dirty})
        objs = [Person(pk=s.pid, **{f: s.vals[f] for f in fields}) for s in plan.changed]
        Person.objects.bulk_update(objs, fields, batch_size=500)
    _write_children_orm(plan, ctx, now)


def _write_children_orm(plan: _Plan, ctx: ImportContext, now) -> None:
    PersonEmail.objects.bulk_create(
        [PersonEmail(person_id=s.pid, email=e, created_at=now) for s, e in plan.other_emails],
        ignore_conflicts=True,
    )
    PersonPhone.objects.bulk_create(
        [PersonPhone(person_id=s.pid, number=n, created_at=now) for s, n in plan.other_phones],
        ignore_conflicts=True,
    )
    # Not ignore_conflicts: an id taken meanwhile must fail the batch, as in person_upsert.
    PersonIdentifier.objects.bulk_create(
        [
            PersonIdentifier(person_id=s.pid, system=sy, value=v)
            for s, sy, v in plan.identifiers
            if s.new
        ]
    )
    PersonIdentifier.objects.bulk_create(
        [
            PersonIdentifier(person_id=s.pid, system=sy, value=v)
            for s, sy, v in plan.identifiers
            if not s.new
        ],
        ignore_conflicts=True,
    )
    Tagging.objects.bulk_create(
        [Tagging(person_id=s.pid, tag_id=t, created_at=now) for s, t in plan.taggings],
        ignore_conflicts=True,
        batch_size=ORM_BATCH,
    )
    ListMembership.objects.bulk_create(
        [ListMembership(person_id=s.pid, list_id=x, created_at=now) for s, x in plan.listings],
        ignore_conflicts=True,
        batch_size=ORM_BATCH,
    )
    Activity.objects.bulk_create(
        [
            Activity(
                person_id=s.pid,
                kind=k,
                summary=str(summary)[:500],
                data=d,
                actor_id=ctx.actor_id,
                created_at=now,
            )
            for s, k, summary, d in plan.activities
        ],
        batch_size=ORM_BATCH,
    )


def _write_pg(
    plan: _Plan, ctx: ImportContext, now, staged: Callable[[], None] | None = None
) -> None:
    """The PostgreSQL path: set-based SQL around COPY (see ``pgwrite``)."""
    pgwrite.write_plan(plan, ctx, now, staged)


def _slow_batch(
    rows: list[CleanRow], ctx: ImportContext, counts: ImportCounts, rejects: list[RejectedRow]
) -> None:
    """Row by row through person_upsert: the fallback when a bulk write met a race."""
    scope = ctx.scope_ids()
    outside = _("Outside your area: you can only import people whose postcode is in your area.")
    for row in rows:
        if scope is not None:
            found = people_services.person_find(
                email=row.email, phone=row.phone, identifier=row.identifier
            )
            pc = Postcode.objects.filter(postcode=row.postcode).first() if row.postcode else None
            if found is not None:
                new_area = (
                    (pc.area_id if pc else None)
                    if row.postcode and row.postcode != found.postcode
                    else found.area_id
                )
                bad = found.area_id not in scope or new_area not in scope
            else:
                bad = (pc.area_id if pc else None) not in scope
            if bad:
                rejects.append(RejectedRow(row.line, outside, []))
                counts.rejected += 1
                continue
        try:
            result = person_upsert_row(row, ctx)
        except ValidationError as exc:
            rejects.append(RejectedRow(row.line, "; ".join(exc.messages), []))
            counts.rejected += 1
            continue
        if result.created:
            counts.created += 1
        elif result.changed or row.tags or ctx.tags or ctx.lists:
            # person_upsert does not say whether a tag or list was new: counted as updated.
            counts.updated += 1
        else:
            counts.unchanged += 1


def person_upsert_row(row: CleanRow, ctx: ImportContext):
    """``person_upsert`` with a cleaned import row: what the bulk path must equal."""
    return people_services.person_upsert(
        email=row.email,
        phone=row.phone,
        identifier=row.identifier,
        first_name=row.first_name,
        last_name=row.last_name,
        address_line1=row.address_line1,
        address_line2=row.address_line2,
        town=row.town,
        postcode=row.postcode,
        custom_fields=row.custom,
        tags=[*row.tags, *ctx.tags],
        lists=list(ctx.lists),
        email_status=row.email_status,
        actor=ctx.actor,
        activity_kind=Activity.Kind.IMPORTED,
    )


def people_import_rows(
    *,
    rows: Iterable[CleanRow | RejectedRow],
    ctx: ImportContext,
    dry_run: bool = False,
    batch_size: int | None = None,
    progress: Callable[[ImportCounts], None] | None = None,
    use_copy: bool | None = None,
) -> tuple[ImportCounts, list[RejectedRow], list[CleanRow]]:
    """Import ``rows`` in batches; return the counts, the rejected rows and the rows
    that imported with warnings.

    Each batch commits on its own (a crash keeps earlier batches, loses none of a
    batch's people half-way). ``dry_run`` runs everything inside one transaction that
    is rolled back, so the counts are exactly what a real run would give.
    ``use_copy`` forces the PostgreSQL COPY path on or off (default: on for PostgreSQL).
    """
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    if use_copy and connection.vendor != "postgresql":
        raise ValueError("The COPY path needs PostgreSQL.")
    run = _ImportRun(ctx, use_copy=use_copy, batch_size=batch_size, progress=progress)
    with _fewer_collections():
        if dry_run:
            with transaction.atomic():
                run.run(rows)
                transaction.set_rollback(True)
        elif use_copy and not connection.in_atomic_block:
            run.run_pipelined(rows)
        else:
            run.run(rows)
    run.rejects.sort(key=lambda r: r.line)
    return run.counts, run.rejects, run.warned


# A chunk holds a few hundred thousand rows and their states alive, none of them in a
# reference cycle. With the default thresholds (a collection every 700 allocations) the
# garbage collector keeps walking them all: reading and cleaning 1M rows took ~22 s of
# CPU with the defaults against ~15 s with these (bench file, read into one list).
_GC_THRESHOLDS = (100_000, 50, 100)
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the garbage collector's thresholds while an import runs (process-wide;
    put back when the last import of the process ends)."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*_GC_THRESHOLDS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


class _ImportRun:
    """The state of one ``people_import_rows`` call: counts, rejected and warned rows,
    and how the rows are cut into batches."""

    def __init__(
        self,
        ctx: ImportContext,
        *,
        use_copy: bool,
        batch_size: int | None,
        progress: Callable[[ImportCounts], None] | None,
    ) -> None:
        self.ctx = ctx
        self.use_copy = use_copy
        self.progress = progress
        self.size = batch_size or (PG_BATCH if use_copy else ORM_BATCH)
        # Chunks start small and grow on the COPY path (see PG_FIRST_BATCH).
        self.limit = min(self.size, PG_FIRST_BATCH) if use_copy and not batch_size else self.size
        self.counts = ImportCounts()
        self.rejects: list[RejectedRow] = []
        self.warned: list[CleanRow] = []
        self.seen = 0
        # Rejections found while reading (main thread) and while writing (maybe another
        # thread) are counted apart so neither thread updates the other's number.
        self.read_rejected = 0
        self.write_rejected = 0
        # The keys of the chunk written last, for the next chunk's early look-ups.
        self.recent: Keys = NO_KEYS

    def batches(self, rows: Iterable[CleanRow | RejectedRow]) -> Iterator[tuple[list, int, int]]:
        """(batch, rows read so far, rejected while reading so far), the last batch
        possibly empty. Rows rejected by the cleaner are kept aside, not batched."""
        batch: list[CleanRow] = []
        for item in rows:
            self.seen += 1
            if isinstance(item, RejectedRow):
                self.rejects.append(item)
                self.read_rejected += 1
                continue
            if item.warnings:
                self.warned.append(item)
                self.counts.warned += 1
            batch.append(item)
            if len(batch) >= self.limit:
                yield batch, self.seen, self.read_rejected
                batch = []
                self.limit = min(self.size, self.limit * PG_GROWTH)
        yield batch, self.seen, self.read_rejected

    def write_batch(
        self,
        batch: list[CleanRow],
        processed: int,
        read_rejects: int,
        planned: threading.Event | None = None,
        prepared: _Prepared | None = None,
    ) -> None:
        """Plan and write ``batch`` in one transaction (committed on return unless the
        caller holds one), replaying it row by row if it met a concurrent write; then
        report progress. ``planned`` is set once the Python side of the chunk is done (the
        plan made and the new people staged) and the database's long part begins; the
        caller sets it if this raises first."""
        counts = self.counts
        if batch:
            if prepared is None:
                with pgwrite.step("prepare"):
                    prepared = _prepare(batch, staging=self.use_copy)
            now = timezone.now()
            with pgwrite.step("chunk (all of it, with commit)"), transaction.atomic():
                with pgwrite.step("plan"):
                    plan = _plan_batch(batch, self.ctx, now, prepared, self.recent)
                try:
                    with transaction.atomic():
                        if self.use_copy:
                            _write_pg(plan, self.ctx, now, staged=planned.set if planned else None)
                        else:
                            _write_orm(plan, self.ctx, now)
                except IntegrityError:
                    log.warning("Import batch met a concurrent write; replaying it row by row.")
                    self._replay_slowly(batch)
                else:
                    self._count_plan(plan, batch)
                written = time.perf_counter()
            if prepared.early is not None:
                self.recent = prepared.early.keys
            pgwrite.step_record("commit", time.perf_counter() - written)
        counts.processed = processed
        counts.rejected = read_rejects + self.write_rejected
        if self.progress is not None:
            self.progress(counts)

    def _replay_slowly(self, batch: list[CleanRow]) -> None:
        slow = ImportCounts()
        _slow_batch(batch, self.ctx, slow, self.rejects)
        self.counts.created += slow.created
        self.counts.updated += slow.updated
        self.counts.unchanged += slow.unchanged
        self.write_rejected += slow.rejected

    def _count_plan(self, plan: _Plan, batch: list[CleanRow]) -> None:
        self.counts.created += plan.created
        self.counts.updated += plan.updated
        self.counts.unchanged += plan.unchanged
        self.write_rejected += len(plan.rejects)
        lines = {r.line: r for r in batch}
        for reject in plan.rejects:
            # The planner leaves the cells out; the rejects file shows them.
            reject.cells = lines[reject.line].cells
            self.rejects.append(reject)

    def run(self, rows: Iterable[CleanRow | RejectedRow]) -> None:
        for batch, processed, read_rejects in self.batches(rows):
            self.write_batch(batch, processed, read_rejects)

    def run_pipelined(self, rows: Iterable[CleanRow | RejectedRow]) -> None:
        """Read and clean the next batch while a second thread (with its own database
        connection) writes the previous one. Batches still commit in file order: a batch
        is handed over only when the one before it has committed.

        Reading waits while the writer plans and stages the new people (matching and
        staging are Python, like reading, and the two would only take turns on the
        interpreter lock, making the writer, the critical path, wait); it runs while the
        database inserts and commits."""

        def in_thread(
            batch: list[CleanRow],
            processed: int,
            read_rejects: int,
            planned: threading.Event,
            prepared: _Prepared | None,
        ) -> None:
            try:
                self.write_batch(batch, processed, read_rejects, planned, prepared)
            finally:
                planned.set()
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clarion-import") as pool:
            pending = None
            for batch, processed, read_rejects in self.batches(rows):
                # Prepared here, while the writer's database works on the chunk before.
                with pgwrite.step("prepare (reading thread)"):
                    prepared = _prepare(batch, staging=True) if batch else None
                    if prepared is not None:
                        prepared.early = _early_lookup(batch)
                if pending is not None:
                    pending.result()
                planned = threading.Event()
                pending = pool.submit(in_thread, batch, processed, read_rejects, planned, prepared)
                planned.wait()
            if pending is not None:
                pending.result()


# --- jobs: a file, its mapping, a run -------------------------------------------------


def import_job_create(
    *, actor, uploaded, original_name: str, options: dict | None = None
) -> ImportJob:
    """Store an uploaded file and guess its column mapping. Raises ValueError (with a
    message for the user) when the file cannot be read as CSV."""
    raw = uploaded.read()
    csv_file = csv_open(io.BytesIO(raw))
    columns = mapping_guess(csv_file.headers, list(custom_field_defs().values()))
    job = ImportJob(
        created_by=actor if getattr(actor, "pk", None) else None,
        original_name=original_name[:255],
        encoding=csv_file.encoding,
        delimiter=csv_file.delimiter,
        mapping={"headers": csv_file.headers, "columns": columns},
        options=options or {},
        total_rows=max(raw.count(b"\n") - 1, 0),
    )
    job.file.save(_safe_name(original_name), ContentFile(raw), save=False)
    job.save()
    return job


def _safe_name(name: str) -> str:
    import re

    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit("/", 1)[-1])[:80] or "import.csv"
    return base if base.lower().endswith(".csv") else base + ".csv"


def import_job_configure(
    *, job: ImportJob, columns: list[str], tags: list[str], lists: list[str], dry_run: bool
) -> ImportJob:
    job.mapping = {**job.mapping, "columns": columns}
    job.options = {**job.options, "tags": tags, "lists": lists}
    job.dry_run = dry_run
    job.save(update_fields=["mapping", "options", "dry_run"])
    return job


def import_job_claim(*, job_id: int) -> ImportJob | None:
    """Mark a queued (or mapping) job running and return it; None if it is already
    running or finished, so a task delivered twice runs once."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.MAPPING):
            return None
        job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at"])
    return job


def import_job_enqueue(*, job: ImportJob) -> None:
    """Queue ``job`` for a worker once the current transaction commits."""
    from .tasks import import_job_task

    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    job.status = ImportJob.Status.QUEUED
    transaction.on_commit(lambda: import_job_task.enqueue(job.pk))


def import_job_run(
    *, job: ImportJob, progress: Callable[[ImportJob], None] | None = None
) -> ImportJob:
    """Run a claimed job to the end: import, write the rejects file, audit.

    Never raises for bad data: a failure is recorded on the job as FAILED with the
    error, and batches already committed stay.
    """
    actor = job.created_by
    if actor is not None and not actor.can_write:
        return _job_fail(job, _("Your role cannot import people."))
    ctx = ImportContext(
        actor=actor,
        scope_area=actor.scope_area if actor is not None else None,
        tags=[t for t in job.options.get("tags", []) if t],
        lists=[x for x in job.options.get("lists", []) if x],
        job_id=job.pk,
    )
    try:
        with job.file.open("rb") as handle:
            csv_file = csv_open(handle, encoding=job.encoding, delimiter=job.delimiter)
            cleaner = RowCleaner(job.mapping.get("columns", []), custom_field_defs())
            counts, rejects, warned = people_import_rows(
                rows=_clean_rows(csv_file, cleaner),
                ctx=ctx,
                dry_run=job.dry_run,
                progress=partial(_job_progress, job, progress),
            )
    except Exception as exc:  # a broken file or database error: record it, don't crash the worker
        log.exception("Import %s failed", job.pk)
        return _job_fail(job, str(exc)[:2000] or exc.__class__.__name__)
    _job_counts_set(job, counts)
    job.total_rows = counts.processed
    if rejects or warned:
        job.rejects.save(
            f"rejects-{job.pk}.csv", ContentFile(rejects_csv(rejects, warned)), save=False
        )
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save()
    _job_audit(job, counts)
    return job


def _job_fail(job: ImportJob, error: str) -> ImportJob:
    """Record ``job`` as FAILED with ``error`` (saved now); returns it."""
    job.status = ImportJob.Status.FAILED
    job.error = error
    job.finished_at = timezone.now()
    job.save()
    return job


def _job_counts_set(job: ImportJob, counts: ImportCounts) -> None:
    """Copy ``counts`` onto the ``job`` instance (not saved)."""
    job.processed_rows = counts.processed
    job.created_count, job.updated_count, job.unchanged_count, job.rejected_count = (
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.rejected,
    )


def _job_progress(
    job: ImportJob, progress: Callable[[ImportJob], None] | None, counts: ImportCounts
) -> None:
    """After each batch: store the counts on the job's row at once (one UPDATE, in the
    batch's thread), so the progress page shows them while the import runs."""
    ImportJob.objects.filter(pk=job.pk).update(
        processed_rows=counts.processed,
        total_rows=max(job.total_rows, counts.processed),
        created_count=counts.created,
        updated_count=counts.updated,
        unchanged_count=counts.unchanged,
        rejected_count=counts.rejected,
    )
    _job_counts_set(job, counts)
    if progress is not None:
        progress(job)


def _job_audit(job: ImportJob, counts: ImportCounts) -> None:
    """The "import" audit entry of a finished job: its name and counts."""
    audit_record(
        actor=job.created_by,
        action="import",
        summary=_(
            "Imported %(name)s: created %(c)s, updated %(u)s, unchanged %(n)s, rejected %(r)s%(dry)s"
        )
        % {
            "name": job.original_name,
            "c": counts.created,
            "u": counts.updated,
            "n": counts.unchanged,
            "r": counts.rejected,
            "dry": _(" (dry run)") if job.dry_run else "",
        },
        object_type="importjob",
        object_id=job.pk,
        detail={
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "rejected": counts.rejected,
            "dry_run": job.dry_run,
        },
    )


def _clean_rows(csv_file, cleaner: RowCleaner) -> Iterator[CleanRow | RejectedRow]:
    for line, cells in csv_file.rows():
        yield cleaner.clean(line, cells)


def rejects_csv(rejects: list[RejectedRow], warned: list[CleanRow]) -> bytes:
    """The downloadable list: row number, what happened, why, and the original cells.
    Cells are neutralised so a spreadsheet does not run them as formulas."""
    from .export import neutralise

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("row"), _("outcome"), _("reason")])
    items: list[tuple[int, str, str, list[str]]] = [
        (r.line, _("rejected"), r.reason, r.cells) for r in rejects
    ]
    items += [(w.line, _("imported with warning"), " ".join(w.warnings), []) for w in warned]
    items.sort(key=lambda i: i[0])
    for line, outcome, reason, cells in items:
        writer.writerow([line, outcome, neutralise(reason), *[neutralise(c) for c in cells]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def import_settings_inline_max() -> int:
    return int(getattr(settings, "IMPORT_INLINE_MAX_BYTES", 256 * 1024))
