"""Storage limitation: the retention policy's preview and run.

The policy (``core.RetentionPolicy``, off by default) erases people who have done
nothing for ``inactive_years``, are not members and have no gift inside the
record-keeping period, through ``people.services.person_erase`` (so every app's data
goes and the email hash stays on the suppression list). Separate *cleaners* remove
data that has its own, shorter period: unconfirmed double-opt-in actions, IP address
hashes, rate-limit counters.

People cannot know what the apps above them hold, so those apps tell it, from their
``AppConfig.ready()``, through two registries in this module:

- ``keeper_register(name, reason=..., rows=..., person_field=...)``: ``rows(cutoffs)``
  is a queryset of the app's rows that keep their person; ``person_field`` is the
  lookup from such a row to the person (``"person"``, ``"recipient__person"``). The
  reason is ``ACTIVITY`` (something the person did inside the inactivity window),
  ``MEMBER`` or ``DONATION`` (a gift inside the record-keeping period).
- ``cleaner_register(name, label=..., rows=..., clean=...)``: ``rows(cutoffs)`` is the
  queryset of rows past their period and ``clean(queryset) -> int`` removes one batch
  of them (delete, or blank a column), returning how many it changed. Rows cleaned
  must drop out of ``rows``.

A keeper or cleaner must not change whether another keeper matches: the preview
counts everything against one snapshot, and the run must then do exactly that.

Everything runs in batches, each in its own short transaction, so a run over 100k
people never holds one giant transaction, and a run stopped half-way resumes where
it stopped next time (the run is idempotent).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from clarion.core import schedule
from clarion.core.models import AuditEntry, RetentionPolicy, User
from clarion.core.services import audit_record

from .imports.tasks import private_files_purge_task
from .models import Activity, MembershipStatus, Person
from .services import person_erase

logger = logging.getLogger(__name__)

ACTIVITY = "activity"
MEMBER = "member"
DONATION = "donation"
REASONS = (ACTIVITY, MEMBER, DONATION)

BATCH_SIZE = 100
PREVIEW_PEOPLE = 50


@dataclasses.dataclass(frozen=True)
class Cutoffs:
    """The instants a run compares against, all computed from one ``now``."""

    now: dt.datetime
    active_since: dt.datetime
    donation_since: dt.datetime
    unconfirmed_before: dt.datetime
    ip_hash_before: dt.datetime
    ratelimit_before: dt.datetime

    @classmethod
    def for_policy(cls, policy: RetentionPolicy, now: dt.datetime | None = None) -> Cutoffs:
        now = now or timezone.now()
        return cls(
            now=now,
            active_since=_years_before(now, policy.inactive_years),
            donation_since=_years_before(now, policy.donation_record_years),
            unconfirmed_before=now - dt.timedelta(days=policy.unconfirmed_days),
            ip_hash_before=now - dt.timedelta(days=policy.ip_hash_days),
            ratelimit_before=now - dt.timedelta(days=policy.ratelimit_days),
        )


def _years_before(now: dt.datetime, years: int) -> dt.datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


# --- Registries ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Keeper:
    name: str
    reason: str
    rows: Callable[[Cutoffs], QuerySet]
    person_field: str = "person"

    def exists(self, cutoffs: Cutoffs) -> Exists:
        return Exists(self.rows(cutoffs).filter(**{self.person_field: OuterRef("pk")}))


@dataclasses.dataclass(frozen=True)
class Cleaner:
    name: str
    label: Any
    count: Callable[[Cutoffs], int]
    run: Callable[[Cutoffs, int], int]


_keepers: dict[str, Keeper] = {}
_cleaners: dict[str, Cleaner] = {}


def keeper_register(
    name: str,
    *,
    reason: str,
    rows: Callable[[Cutoffs], QuerySet],
    person_field: str = "person",
) -> None:
    """Declare rows that keep their person from being erased (see the module doc)."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}")
    _keepers[name] = Keeper(name=name, reason=reason, rows=rows, person_field=person_field)


def cleaner_register(
    name: str,
    *,
    label,
    rows: Callable[[Cutoffs], QuerySet],
    clean: Callable[[QuerySet], int],
) -> None:
    """Declare rows that are removed once past their own period (see the module doc)."""

    def run(cutoffs: Cutoffs, batch_size: int) -> int:
        done = 0
        last_pk = None
        while True:
            pending = rows(cutoffs).order_by("pk")
            if last_pk is not None:
                pending = pending.filter(pk__gt=last_pk)
            ids = list(pending.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return done
            last_pk = ids[-1]
            with transaction.atomic():
                done += clean(rows(cutoffs).filter(pk__in=ids))

    _cleaners[name] = Cleaner(
        name=name, label=label, count=lambda cutoffs: rows(cutoffs).count(), run=run
    )


def cleaner_register_custom(
    name: str, *, label, count: Callable[[Cutoffs], int], run: Callable[[Cutoffs, int], int]
) -> None:
    """A cleaner for data that is not a model's rows (``run(cutoffs, batch_size)``)."""
    _cleaners[name] = Cleaner(name=name, label=label, count=count, run=run)


def keepers() -> list[Keeper]:
    return list(_keepers.values())


def cleaners() -> list[Cleaner]:
    return list(_cleaners.values())


def unregister(name: str) -> None:
    _keepers.pop(name, None)
    _cleaners.pop(name, None)


def delete_rows(queryset: QuerySet) -> int:
    """``clean`` for cleaners that delete: how many of the queryset's own rows went."""
    _total, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


# --- Who would be erased --------------------------------------------------------------


def _with_reason(queryset: QuerySet, cutoffs: Cutoffs, reason: str, present: bool) -> QuerySet:
    for keeper in keepers():
        if keeper.reason == reason:
            exists = keeper.exists(cutoffs)
            queryset = queryset.filter(exists) if present else queryset.exclude(exists)
    return queryset


def inactive_people(cutoffs: Cutoffs) -> QuerySet[Person]:
    """People with no activity since ``cutoffs.active_since`` (members and donors too)."""
    return _with_reason(Person.objects.all(), cutoffs, ACTIVITY, present=False)


def erasable_people(cutoffs: Cutoffs) -> QuerySet[Person]:
    """People the policy erases: inactive, not members, no gift in the period."""
    queryset = inactive_people(cutoffs)
    queryset = _with_reason(queryset, cutoffs, MEMBER, present=False)
    return _with_reason(queryset, cutoffs, DONATION, present=False)


@dataclasses.dataclass
class Preview:
    cutoffs: Cutoffs
    erase_count: int
    kept_members: int
    kept_donors: int
    cleaned: list[tuple[str, Any, int]]  # (name, label, count)
    people: list[Person]


def retention_preview(
    *, policy: RetentionPolicy, now: dt.datetime | None = None, sample: int = PREVIEW_PEOPLE
) -> Preview:
    """What a run of ``policy`` at ``now`` would do, changing nothing.

    Shows people's names: for admins only (the policy page checks).
    """
    cutoffs = Cutoffs.for_policy(policy, now)
    inactive = inactive_people(cutoffs)
    not_members = _with_reason(inactive, cutoffs, MEMBER, present=False)
    erasable = _with_reason(not_members, cutoffs, DONATION, present=False)
    inactive_count = inactive.count()
    not_member_count = not_members.count()
    erase_count = erasable.count()
    return Preview(
        cutoffs=cutoffs,
        erase_count=erase_count,
        kept_members=inactive_count - not_member_count,
        kept_donors=not_member_count - erase_count,
        cleaned=[(c.name, c.label, c.count(cutoffs)) for c in cleaners()],
        people=list(erasable.order_by("pk")[:sample]),
    )


# --- The run -----------------------------------------------------------------------


def _erase_people(cutoffs: Cutoffs, *, actor, batch_size: int) -> int:
    erased = 0
    last_pk = 0
    while True:
        ids = list(
            erasable_people(cutoffs)
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return erased
        last_pk = ids[-1]
        with transaction.atomic():
            # Checked again under the row locks: someone may have acted since the ids
            # were read, and another run may have erased them already.
            for person in (
                erasable_people(cutoffs).filter(pk__in=ids).order_by("pk").select_for_update()
            ):
                person_erase(person=person, actor=actor)
                erased += 1


def retention_run(
    *,
    actor=None,
    trigger: str = "schedule",
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict | None:
    """Apply the policy once; returns the report, or None when the policy is off.

    Idempotent: a second run at the same ``now`` finds nothing left to do. Commits
    batch by batch (a crash leaves what was done done, and the next run finishes).
    Cleaners run before people are erased. Each erased person gets the usual
    ``erase`` audit entry (by id only); the run adds one summary entry and stores
    its report on the policy.
    """
    policy = RetentionPolicy.load()
    if not policy.enabled:
        return None
    cutoffs = Cutoffs.for_policy(policy, now)
    started = timezone.now()
    cleaned = {c.name: c.run(cutoffs, batch_size) for c in cleaners()}
    erased = _erase_people(cutoffs, actor=actor, batch_size=batch_size)
    report = {
        "trigger": trigger,
        "started_at": started.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "cutoff": cutoffs.now.isoformat(),
        "policy": {
            "inactive_years": policy.inactive_years,
            "donation_record_years": policy.donation_record_years,
            "unconfirmed_days": policy.unconfirmed_days,
            "ip_hash_days": policy.ip_hash_days,
            "ratelimit_days": policy.ratelimit_days,
        },
        "erased_people": erased,
        "cleaned": cleaned,
    }
    with transaction.atomic():
        RetentionPolicy.objects.filter(pk=policy.pk).update(
            last_run_at=cutoffs.now, last_report=report
        )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.DELETE,
            summary=f"Retention run ({trigger}): {erased} people erased",
            object_type="retention_policy",
            object_id=policy.pk,
            detail={"erased_people": erased, "cleaned": cleaned},
        )
    logger.info("retention run: %s people erased, cleaned %s", erased, cleaned)
    return report


def retention_policy_update(
    *, policy: RetentionPolicy, actor, ip: str | None = None
) -> RetentionPolicy:
    """Save the admin's changes to ``policy`` (already validated) and audit them."""
    policy.modified_at = timezone.now()
    with transaction.atomic():
        policy.save()
        audit_record(
            actor=actor,
            action=AuditEntry.Action.OTHER,
            summary=(
                "Retention policy enabled" if policy.enabled else "Retention policy saved (off)"
            ),
            object_type="retention_policy",
            object_id=policy.pk,
            detail={
                "enabled": policy.enabled,
                "inactive_years": policy.inactive_years,
                "donation_record_years": policy.donation_record_years,
                "unconfirmed_days": policy.unconfirmed_days,
                "ip_hash_days": policy.ip_hash_days,
                "ratelimit_days": policy.ratelimit_days,
            },
            ip=ip,
        )
    return policy


def retention_run_enqueue(*, actor) -> bool:
    """Queue a run now (after commit); False when the policy is off."""
    if not RetentionPolicy.load().enabled:
        return False
    transaction.on_commit(lambda: retention_run_task.enqueue(actor_id=actor.pk))
    return True


@task()
def retention_run_task(actor_id: int | None = None) -> str:
    """A run asked for by an admin ("Run now"); the report lands on the policy."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    report = retention_run(actor=actor, trigger="manual")
    return "off" if report is None else f"erased {report['erased_people']}"


@task()
def retention_daily() -> str:
    """The daily scheduled run; does nothing while the policy is off."""
    report = retention_run(trigger="schedule")
    return "off" if report is None else f"erased {report['erased_people']}"


schedule.register("people.retention", retention_daily, every=dt.timedelta(days=1))
# Import uploads and reject files past CLARION_PRIVATE_FILE_RETENTION_DAYS (invariant 9).
schedule.register(
    "people.private_files_purge", private_files_purge_task, every=dt.timedelta(days=1)
)


# --- People's own keepers and the core cleaners ---------------------------------------

keeper_register(
    "people.joined",
    reason=ACTIVITY,
    rows=lambda c: Person.objects.filter(created_at__gte=c.active_since),
    person_field="pk",
)
keeper_register(
    "people.timeline",
    reason=ACTIVITY,
    rows=lambda c: Activity.objects.filter(created_at__gte=c.active_since),
)
# A membership that ran inside the window is activity; an active one keeps for good.
keeper_register(
    "people.membership_recent",
    reason=ACTIVITY,
    rows=lambda c: Person.objects.filter(renews_on__gte=c.active_since.date()),
    person_field="pk",
)
keeper_register(
    "people.member",
    reason=MEMBER,
    rows=lambda c: Person.objects.filter(membership_status=MembershipStatus.ACTIVE),
    person_field="pk",
)


def _ratelimit_table() -> tuple[str, str] | None:
    """The database cache's table and the key prefix of rate-limit counters, or None
    when the cache is elsewhere (Redis expires its keys itself)."""
    cache = caches["default"]
    if not isinstance(cache, DatabaseCache):
        return None
    return cache._table, cache.make_key("rl:")


def _ratelimit_count(cutoffs: Cutoffs) -> int:
    found = _ratelimit_table()
    if found is None:
        return 0
    table, prefix = found
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)} "  # noqa: S608  (quoted name)
            "WHERE cache_key LIKE %s AND expires < %s",
            [prefix + "%", connection.ops.adapt_datetimefield_value(cutoffs.ratelimit_before)],
        )
        return int(cursor.fetchone()[0])


def _ratelimit_run(cutoffs: Cutoffs, batch_size: int) -> int:
    found = _ratelimit_table()
    if found is None:
        return 0
    table, prefix = found
    connection = connections["default"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(table)} "  # noqa: S608  (quoted name)
            "WHERE cache_key LIKE %s AND expires < %s",
            [prefix + "%", connection.ops.adapt_datetimefield_value(cutoffs.ratelimit_before)],
        )
        return max(cursor.rowcount, 0)


cleaner_register_custom(
    "core.ratelimit",
    label=_("Rate-limit counters"),
    count=_ratelimit_count,
    run=_ratelimit_run,
)
