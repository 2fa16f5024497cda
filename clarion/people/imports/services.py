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
Python; elsewhere bulk ORM calls. If a concurrent writer got in first (a unique email
taken between look-up and write), the batch is rolled back to its savepoint and replayed
row by row through ``person_upsert``, which handles races.

Organisers import within their area: a row is rejected ("outside your area") when it
would create a person whose postcode is not inside the organiser's subtree (or who has
no mapped postcode, since such a person would be visible to national staff only), or
when it matches an existing person outside the subtree, or would move one out of it.
So an import can neither read nor overwrite people out of scope.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.models import Area, Postcode
from clarion.core.services import audit_record
from clarion.people import services as people_services
from clarion.people.models import (
    Activity,
    EmailStatus,
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

PROFILE_FIELDS = ("first_name", "last_name", "address_line1", "address_line2", "town")
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
ORM_BATCH = 2000
# A chunk is one transaction: large enough that per-chunk statements cost nothing per
# row, small enough to keep memory and the replay-on-race fallback bounded.
PG_BATCH = 200_000
PG_FIRST_BATCH = 20_000


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
            self._tag_cache[key] = people_services._tags_by_name([name])[0]
        return self._tag_cache[key]

    def plist(self, name: str) -> PersonList:
        key = name.lower()
        if key not in self._list_cache:
            self._list_cache[key] = people_services._lists_by_name([name])[0]
        return self._list_cache[key]

    @property
    def actor_id(self) -> int | None:
        return getattr(self.actor, "pk", None)


class _State:
    """One person as the batch sees them: loaded from the database or new."""

    __slots__ = ("pid", "seq", "vals", "new", "queued", "_dirty", "_tag_ids", "_list_ids")

    def __init__(self, pid: int | None, seq: int, vals: dict[str, Any], new: bool) -> None:
        self.pid = pid
        self.seq = seq
        self.vals = vals
        self.new = new
        self.queued = False  # in plan.changed
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


def _plan_batch(rows: list[CleanRow], ctx: ImportContext, now) -> _Plan:
    """Replay ``rows`` in order against the people they match; nothing is written."""
    plan = _Plan(rows=rows)
    prim_email, other_email, prim_phone, other_phone, ident = _lookup(rows)
    idx_prim_email: dict[str, Any] = dict(prim_email)
    idx_other_email: dict[str, Any] = dict(other_email)
    idx_prim_phone: dict[str, Any] = dict(prim_phone)
    idx_other_phone: dict[str, Any] = dict(other_phone)
    idx_ident: dict[tuple[str, str], Any] = dict(ident)

    existing_ids = set(prim_email.values()) | set(other_email.values()) | set(prim_phone.values())
    existing_ids |= set(other_phone.values()) | set(ident.values())
    states: dict[int, _State] = {}
    on_pg = connection.vendor == "postgresql"
    if existing_ids and on_pg:
        # Locked until the chunk commits, so nobody changes them under the replay.
        for pid, vals in pgwrite.people_for_update(sorted(existing_ids), STATE_FIELDS):
            states[pid] = _State(pid, 0, vals, new=False)
    elif existing_ids:
        for vals in Person.objects.filter(pk__in=existing_ids).values("pk", *STATE_FIELDS):
            pid = vals.pop("pk")
            states[pid] = _State(pid, 0, vals, new=False)
    row_tags = {name for r in rows for name in r.tags} | set(ctx.tags)
    tags = {name.lower(): ctx.tag(name) for name in row_tags}
    plists = [ctx.plist(name) for name in ctx.lists]
    for model, column, wanted, attr in (
        (Tagging, "tag_id", [t.pk for t in tags.values()], "tag_ids"),
        (ListMembership, "list_id", [p.pk for p in plists], "list_ids"),
    ):
        if not (states and wanted):
            continue
        if on_pg:
            pairs = pgwrite.pairs_of(model._meta.db_table, column, list(states), wanted)
        else:
            pairs = model.objects.filter(
                person_id__in=list(states), **{f"{column}__in": wanted}
            ).values_list("person_id", column)
        for pid, other in pairs:
            getattr(states[pid], attr).add(other)
    postcodes = {r.postcode for r in rows if r.postcode}
    pc_rows = (
        {
            pc: (area_id, lat, lng)
            for pc, area_id, lat, lng in Postcode.objects.filter(
                postcode__in=list(postcodes)
            ).values_list("postcode", "area_id", "latitude", "longitude")
        }
        if postcodes
        else {}
    )
    scope = ctx.scope_ids()
    outside = _("Outside your area: you can only import people whose postcode is in your area.")
    joined = _("Joined the database")
    created_data = {"recruiter": None, "import": ctx.job_id}
    plan.joined_summary, plan.joined_data = joined, created_data
    seq = 0
    for row in rows:
        before: tuple[int, ...] | None = None
        ref = None
        if row.email:
            ref = idx_prim_email.get(row.email) or idx_other_email.get(row.email)
        if ref is None and row.phone:
            ref = idx_prim_phone.get(row.phone) or idx_other_phone.get(row.phone)
        if ref is None and row.identifier:
            ref = idx_ident.get(row.identifier)
        if isinstance(ref, int):
            ref = states[ref]
        pc = pc_rows.get(row.postcode) if row.postcode else None

        if ref is None:
            area_id = pc[0] if pc else None
            if scope is not None and area_id not in scope:
                plan.rejects.append(RejectedRow(row.line, outside, []))
                continue
            seq += 1
            vals = {
                "email": row.email or None,
                "phone": row.phone,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "address_line1": row.address_line1,
                "address_line2": row.address_line2,
                "town": row.town,
                "postcode": row.postcode,
                "area_id": area_id,
                "latitude": pc[1] if pc else None,
                "longitude": pc[2] if pc else None,
                "custom_fields": {k: v for k, v in row.custom.items() if v is not None},
                "email_status": row.email_status or EmailStatus.NONE.value,
                "email_status_reason": "",
                "email_status_changed_at": now if row.email_status is not None else None,
                "modified_at": now,
            }
            state = _State(None, seq, vals, new=True)
            plan.new.append(state)
            plan.created += 1
            if row.email:
                idx_prim_email[row.email] = state
            if row.phone and row.phone not in idx_prim_phone:
                idx_prim_phone[row.phone] = state
            if row.identifier:
                plan.identifiers.append((state, *row.identifier))
                idx_ident.setdefault(row.identifier, state)
            plan.activities.append((state, Activity.Kind.CREATED, joined, created_data))
        else:
            state = ref
            vals = state.vals
            if scope is not None:
                new_area = (
                    (pc[0] if pc else None)
                    if row.postcode and row.postcode != vals["postcode"]
                    else vals["area_id"]
                )
                if vals["area_id"] not in scope or new_area not in scope:
                    plan.rejects.append(RejectedRow(row.line, outside, []))
                    continue
            before = _writes(plan)
            changed: list[str] = []
            for name in PROFILE_FIELDS:
                value = getattr(row, name)
                if value and vals[name] != value:
                    vals[name] = value
                    changed.append(name)
            if row.email and not vals["email"]:
                vals["email"] = row.email
                changed.append("email")
                idx_prim_email[row.email] = state
            elif row.email and vals["email"] != row.email:
                if row.email not in idx_other_email:
                    idx_other_email[row.email] = state
                    plan.other_emails.append((state, row.email))
            if row.phone and not vals["phone"]:
                vals["phone"] = row.phone
                changed.append("phone")
                current = idx_prim_phone.get(row.phone)
                if current is None or state.order() < _order(current):
                    idx_prim_phone[row.phone] = state
            elif row.phone and vals["phone"] != row.phone:
                key = (id(state), row.phone)
                held = idx_other_phone.get(row.phone)
                if held is state or (held is not None and held == state.pid):
                    plan.phone_keys.add(key)  # already one of this person's numbers
                if key not in plan.phone_keys:
                    plan.phone_keys.add(key)
                    plan.other_phones.append((state, row.phone))
                    idx_other_phone.setdefault(row.phone, state)
            if row.postcode and vals["postcode"] != row.postcode:
                vals["postcode"] = row.postcode
                vals["area_id"], vals["latitude"], vals["longitude"] = (
                    pc if pc else (None, None, None)
                )
                changed.append("postcode")
            for key, value in row.custom.items():
                if value is not None and vals["custom_fields"].get(key) != value:
                    vals["custom_fields"] = {**vals["custom_fields"], key: value}
                    changed.append(f"custom:{key}")
            if row.identifier and row.identifier not in idx_ident:
                idx_ident[row.identifier] = state
                plan.identifiers.append((state, *row.identifier))
            status_changed = False
            if row.email_status is not None and row.email_status != vals["email_status"]:
                vals["email_status"] = row.email_status
                vals["email_status_reason"] = ""
                vals["email_status_changed_at"] = now
                changed.append("email_status")
                status_changed = True
            if changed:
                vals["modified_at"] = now
                state.dirty.update(f for f in changed if not f.startswith("custom:"))
                if any(f.startswith("custom:") for f in changed):
                    state.dirty.add("custom_fields")
                if "postcode" in changed:
                    state.dirty.update(("area_id", "latitude", "longitude"))
                if "email_status" in changed:
                    state.dirty.update(("email_status_reason", "email_status_changed_at"))
                state.dirty.add("modified_at")
                if not state.new and not state.queued:
                    state.queued = True
                    plan.changed.append(state)
                fields = [f for f in changed if f != "email_status"]
                if fields:
                    summary = _("Details changed: %(fields)s") % {"fields": ", ".join(fields)}
                    plan.activities.append(
                        (state, Activity.Kind.IMPORTED, summary, {"fields": changed})
                    )
                if status_changed:
                    summary = _("Email status: %(status)s") % {
                        "status": EmailStatus(vals["email_status"]).label
                    }
                    plan.activities.append(
                        (
                            state,
                            Activity.Kind.EMAIL_STATUS,
                            str(summary),
                            {"status": vals["email_status"], "reason": ""},
                        )
                    )
        for name in [*row.tags, *ctx.tags]:
            tag = tags[name.lower()] if name.lower() in tags else ctx.tag(name)
            if tag.pk in state.tag_ids:
                continue
            state.tag_ids.add(tag.pk)
            plan.taggings.append((state, tag.pk))
            plan.activities.append(
                (
                    state,
                    Activity.Kind.TAGGED,
                    _("Tagged %(tag)s") % {"tag": tag.name},
                    {"tag": tag.pk},
                )
            )
            if not state.new:
                vals["modified_at"] = now
                state.dirty.add("modified_at")
                if not state.queued:
                    state.queued = True
                    plan.changed.append(state)
        for plist in plists:
            if plist.pk in state.list_ids:
                continue
            state.list_ids.add(plist.pk)
            plan.listings.append((state, plist.pk))
            plan.activities.append(
                (
                    state,
                    Activity.Kind.LISTED,
                    _("Added to list %(name)s") % {"name": plist.name},
                    {"list": plist.pk},
                )
            )
        if before is not None:
            if _writes(plan) == before:
                plan.unchanged += 1
            else:
                plan.updated += 1
    return plan


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


def _write_pg(plan: _Plan, ctx: ImportContext, now) -> None:
    """The PostgreSQL path: set-based SQL around COPY (see ``pgwrite``)."""
    pgwrite.write_plan(plan, ctx, now)


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
    size = batch_size or (PG_BATCH if use_copy else ORM_BATCH)
    counts = ImportCounts()
    rejects: list[RejectedRow] = []
    warned: list[CleanRow] = []

    seen = [0]
    # Rejections found while reading (main thread) and while writing (maybe another
    # thread) are counted apart so neither thread updates the other's number.
    read_rejected = [0]
    write_rejected = [0]

    # The first chunk is smaller so the writer starts while the rest is still read.
    limit = [min(size, PG_FIRST_BATCH) if use_copy and not batch_size else size]

    def batches() -> Iterator[tuple[list[CleanRow], int, int]]:
        batch: list[CleanRow] = []
        for item in rows:
            seen[0] += 1
            if isinstance(item, RejectedRow):
                rejects.append(item)
                read_rejected[0] += 1
                continue
            if item.warnings:
                warned.append(item)
                counts.warned += 1
            batch.append(item)
            if len(batch) >= limit[0]:
                yield batch, seen[0], read_rejected[0]
                batch = []
                limit[0] = size
        yield batch, seen[0], read_rejected[0]

    def write_batch(batch: list[CleanRow], processed: int, read_rejects: int) -> None:
        if batch:
            now = timezone.now()
            with pgwrite.step("chunk (all of it, with commit)"), transaction.atomic():
                with pgwrite.step("plan"):
                    plan = _plan_batch(batch, ctx, now)
                try:
                    with transaction.atomic():
                        (_write_pg if use_copy else _write_orm)(plan, ctx, now)
                except IntegrityError:
                    log.warning("Import batch met a concurrent write; replaying it row by row.")
                    slow = ImportCounts()
                    _slow_batch(batch, ctx, slow, rejects)
                    counts.created += slow.created
                    counts.updated += slow.updated
                    counts.unchanged += slow.unchanged
                    write_rejected[0] += slow.rejected
                else:
                    counts.created += plan.created
                    counts.updated += plan.updated
                    counts.unchanged += plan.unchanged
                    write_rejected[0] += len(plan.rejects)
                    lines = {r.line: r for r in batch}
                    for reject in plan.rejects:
                        reject.cells = lines[reject.line].cells
                        rejects.append(reject)
                written = time.perf_counter()
            pgwrite.step_record("commit", time.perf_counter() - written)
        counts.processed = processed
        counts.rejected = read_rejects + write_rejected[0]
        if progress is not None:
            progress(counts)

    def run() -> None:
        for batch, processed, read_rejects in batches():
            write_batch(batch, processed, read_rejects)

    def run_pipelined() -> None:
        """Read and clean the next batch while a second thread (with its own database
        connection) matches and writes the previous one. Batches still commit in file
        order: a batch is handed over only when the one before it has committed."""
        from concurrent.futures import ThreadPoolExecutor

        from django.db import connections

        def in_thread(batch: list[CleanRow], processed: int, read_rejects: int) -> None:
            try:
                write_batch(batch, processed, read_rejects)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clarion-import") as pool:
            pending = None
            for batch, processed, read_rejects in batches():
                if pending is not None:
                    pending.result()
                pending = pool.submit(in_thread, batch, processed, read_rejects)
            if pending is not None:
                pending.result()

    if dry_run:
        with transaction.atomic():
            run()
            transaction.set_rollback(True)
    elif use_copy and not connection.in_atomic_block:
        run_pipelined()
    else:
        run()
    rejects.sort(key=lambda r: r.line)
    return counts, rejects, warned


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
    scope_area = actor.scope_area if actor is not None else None
    if actor is not None and not actor.can_write:
        job.status = ImportJob.Status.FAILED
        job.error = _("Your role cannot import people.")
        job.finished_at = timezone.now()
        job.save()
        return job
    ctx = ImportContext(
        actor=actor,
        scope_area=scope_area,
        tags=[t for t in job.options.get("tags", []) if t],
        lists=[x for x in job.options.get("lists", []) if x],
        job_id=job.pk,
    )
    columns = job.mapping.get("columns", [])

    def on_progress(counts: ImportCounts) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=counts.processed,
            total_rows=max(job.total_rows, counts.processed),
            created_count=counts.created,
            updated_count=counts.updated,
            unchanged_count=counts.unchanged,
            rejected_count=counts.rejected,
        )
        job.processed_rows = counts.processed
        job.created_count, job.updated_count, job.unchanged_count, job.rejected_count = (
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.rejected,
        )
        if progress is not None:
            progress(job)

    try:
        with job.file.open("rb") as handle:
            csv_file = csv_open(handle, encoding=job.encoding, delimiter=job.delimiter)
            cleaner = RowCleaner(columns, custom_field_defs())
            counts, rejects, warned = people_import_rows(
                rows=_clean_rows(csv_file, cleaner),
                ctx=ctx,
                dry_run=job.dry_run,
                progress=on_progress,
            )
    except Exception as exc:  # a broken file or database error: record it, don't crash the worker
        log.exception("Import %s failed", job.pk)
        job.status = ImportJob.Status.FAILED
        job.error = str(exc)[:2000] or exc.__class__.__name__
        job.finished_at = timezone.now()
        job.save()
        return job
    job.processed_rows = counts.processed
    job.total_rows = counts.processed
    job.created_count, job.updated_count, job.unchanged_count, job.rejected_count = (
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.rejected,
    )
    if rejects or warned:
        job.rejects.save(
            f"rejects-{job.pk}.csv", ContentFile(rejects_csv(rejects, warned)), save=False
        )
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save()
    audit_record(
        actor=actor,
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
    return job


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
