"""Writes for journeys: building and versioning journeys, entering people, to-dos,
and journeys as JSON files.

A journey's steps are given as a list of dicts (the same shape as the JSON export)::

    [{"key": "thanks", "type": "email", "config": {...}, "next": "wait"},
     {"key": "wait", "type": "wait", "config": {"days": 2}, "next": "gave"},
     {"key": "gave", "type": "decision", "config": {"definition": {...}},
      "yes": "end", "no": "ask"}, ...]

The first step is where people enter. ``next``/``yes``/``no`` name other steps by key
(``next`` for every type except decisions and random splits, which have ``yes`` and
``no``; ``end`` has none). A missing branch ends the journey there (completed).
Everything is checked before anything is written; problems are one
``ValidationError`` whose messages name the step ("Step 2 (wait): ...").
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clarion.areas.selectors import area_subtree_q
from clarion.core.models import User
from clarion.mailings.single import standing_create, standing_problems
from clarion.people.models import Person

from .models import Enrolment, Journey, Step, TestRun, TestRunEntry, Todo
from .steps import step_type
from .triggers import listened_forget, trigger_type

EXPORT_FORMAT = "clarion-journey/1"
MAX_STEPS = 100
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _clean_steps(steps: Any, *, area) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not steps:
        raise ValidationError(_("A journey needs at least one step."))
    if len(steps) > MAX_STEPS:
        raise ValidationError(_("A journey has at most %(n)s steps.") % {"n": MAX_STEPS})
    errors: list[str] = []
    cleaned: list[dict[str, Any]] = []
    keys: set[str] = set()
    for index, raw in enumerate(steps, start=1):
        where = _("Step %(n)s") % {"n": index}
        if not isinstance(raw, dict):
            errors.append(_("%(where)s must be an object.") % {"where": where})
            continue
        unknown = set(raw) - {"key", "type", "config", "next", "yes", "no"}
        if unknown:
            errors.append(
                _("%(where)s has unknown keys: %(keys)s.")
                % {"where": where, "keys": ", ".join(sorted(str(k)[:40] for k in unknown))}
            )
            continue
        key = raw.get("key")
        if not isinstance(key, str) or not _KEY_RE.match(key):
            errors.append(
                _("%(where)s needs a key of lower-case letters, digits, - and _.")
                % {"where": where}
            )
            continue
        if key in keys:
            errors.append(
                _("%(where)s: the key “%(key)s” is used twice.") % {"where": where, "key": key}
            )
            continue
        keys.add(key)
        stype = step_type(raw.get("type"))
        if stype is None:
            errors.append(
                _("%(where)s: there is no step type “%(type)s”.")
                % {"where": where, "type": str(raw.get("type"))[:40]}
            )
            continue
        where = f"{where} ({stype.label})"
        try:
            config = stype.clean(raw.get("config", {}))
        except ValidationError as exc:
            errors += [f"{where}: {m}" for m in exc.messages]
            continue
        if stype.name == "email":
            errors += [
                f"{where}: {m}"
                for m in standing_problems(
                    subject=config["subject"],
                    body=config["body"],
                    area=area,
                    from_email=config["from_email"],
                )
            ]
        links = {}
        for branch in ("next", "yes", "no"):
            target = raw.get(branch)
            if target in (None, ""):
                continue
            if branch not in stype.branches:
                errors.append(
                    _("%(where)s cannot have a “%(branch)s” branch.")
                    % {"where": where, "branch": branch}
                )
                continue
            if not isinstance(target, str):
                errors.append(_("%(where)s: branches name a step key.") % {"where": where})
                continue
            links[branch] = target
        cleaned.append({"key": key, "type": stype.name, "config": config, **links})
    for item in cleaned:
        for branch in ("next", "yes", "no"):
            target = item.get(branch)
            if target is not None and target not in keys:
                errors.append(
                    _("Step “%(key)s”: its “%(branch)s” branch names no step (“%(target)s”).")
                    % {"key": item["key"], "branch": branch, "target": target[:40]}
                )
            if target == item["key"]:
                errors.append(_("Step “%(key)s” cannot lead to itself.") % {"key": item["key"]})
    if errors:
        raise ValidationError(list(dict.fromkeys(errors)))
    return cleaned


def _clean_trigger(trigger_type_name: Any, config: Any) -> dict[str, Any]:
    ttype = trigger_type(trigger_type_name)
    if ttype is None:
        raise ValidationError(
            _("There is no trigger “%(type)s”.") % {"type": str(trigger_type_name)[:40]}
        )
    try:
        return ttype.clean(config if config is not None else {})
    except ValidationError as exc:
        raise ValidationError(
            [f"{_('Trigger')} ({ttype.label}): {m}" for m in exc.messages]
        ) from None


def _write_steps(journey: Journey, version: int, steps: list[dict[str, Any]]) -> list[Step]:
    rows = {
        item["key"]: Step.objects.create(
            journey=journey,
            version=version,
            key=item["key"],
            position=position,
            type=item["type"],
            config=item["config"],
        )
        for position, item in enumerate(steps)
    }
    for item in steps:
        row = rows[item["key"]]
        for branch in ("next", "yes", "no"):
            if item.get(branch):
                setattr(row, f"{branch}_id", rows[item[branch]].pk)
        row.save(update_fields=["next", "yes", "no"])
    return list(rows.values())


def _prepare_emails(journey: Journey, version: int, actor) -> None:
    """Make the standing mailing of every email step of ``version`` that lacks one."""
    for step in Step.objects.filter(journey=journey, version=version, type="email", mailing=None):
        c = step.config
        step.mailing = standing_create(
            name=_("Journey: %(journey)s · %(step)s") % {"journey": journey.name, "step": step.key},
            subject=c["subject"],
            body=c["body"],
            from_name=c["from_name"],
            from_email=c["from_email"],
            category=c.get("category", "news"),
            frequency_cap_hours=c.get("frequency_cap_hours") or 0,
            area=journey.area,
            actor=actor,
        )
        step.save(update_fields=["mailing"])


def _check_writer(actor) -> None:
    if not getattr(actor, "can_write", False):
        raise PermissionDenied


@transaction.atomic
def journey_create(
    *,
    actor,
    name: str,
    trigger_type: str,
    trigger_config: dict[str, Any] | None,
    steps: list[dict[str, Any]],
    reentry_allowed: bool = False,
    description: str = "",
) -> Journey:
    """A draft journey in the actor's scope, with its first version of steps."""
    _check_writer(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Give the journey a name."))
    area = actor.scope_area
    config = _clean_trigger(trigger_type, trigger_config)
    cleaned = _clean_steps(steps, area=area)
    journey = Journey.objects.create(
        name=name[:150],
        description=(description or "")[:2000],
        area=area,
        trigger_type=trigger_type,
        trigger_config=config,
        reentry_allowed=bool(reentry_allowed),
        created_by=actor,
    )
    _write_steps(journey, 1, cleaned)
    return journey


@transaction.atomic
def journey_steps_replace(*, journey: Journey, actor, steps: list[dict[str, Any]]) -> int:
    """Change a journey's steps; returns the version new entrants now start on.

    A draft's steps are replaced in place. Once the journey has run (published,
    paused or archived) the new steps become a new version: people already on the
    way stay on the steps of the version they started (``docs/journeys.md``).
    """
    _check_writer(actor)
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status == Journey.Status.TEST:
        raise ValidationError(
            _("The journey is being tested: go back to draft to edit its steps (the test stops).")
        )
    cleaned = _clean_steps(steps, area=locked.area)
    if locked.status == Journey.Status.DRAFT and not locked.enrolments.exists():
        Step.objects.filter(journey=locked, version=locked.version).delete()
        _write_steps(locked, locked.version, cleaned)
    else:
        locked.version += 1
        _write_steps(locked, locked.version, cleaned)
        if locked.status == Journey.Status.PUBLISHED:
            _prepare_emails(locked, locked.version, actor)
    locked.modified_at = timezone.now()
    locked.save(update_fields=["version", "modified_at"])
    journey.version = locked.version
    return locked.version


_MOVES = {
    "publish": (
        {Journey.Status.DRAFT, Journey.Status.TEST, Journey.Status.PAUSED},
        Journey.Status.PUBLISHED,
    ),
    "pause": ({Journey.Status.PUBLISHED}, Journey.Status.PAUSED),
    "draft": ({Journey.Status.TEST}, Journey.Status.DRAFT),
    "archive": (
        {
            Journey.Status.DRAFT,
            Journey.Status.TEST,
            Journey.Status.PUBLISHED,
            Journey.Status.PAUSED,
        },
        Journey.Status.ARCHIVED,
    ),
}


@transaction.atomic
def journey_set_status(*, journey: Journey, actor, move: str) -> Journey:
    """publish / pause / archive, or draft (back from test). Publishing prepares the
    email steps' standing mailings. A paused journey enters nobody and moves nobody on;
    publishing it again resumes where everyone was. An archived journey is stopped for
    good: people still in it are left where they are (``left``). Leaving *test* stops
    its test run."""
    _check_writer(actor)
    if move not in _MOVES:
        raise ValidationError(_("Unknown change."))
    allowed, target = _MOVES[move]
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status not in allowed:
        raise ValidationError(
            _("A journey that is %(status)s cannot be changed that way.")
            % {"status": locked.get_status_display().lower()}
        )
    if target == Journey.Status.PUBLISHED:
        _prepare_emails(locked, locked.version, actor)
    if locked.status == Journey.Status.TEST:
        _test_runs_stop(locked, _("The journey left test (%(move)s).") % {"move": move})
    if target == Journey.Status.ARCHIVED:
        locked.enrolments.filter(state=Enrolment.State.ACTIVE).update(
            state=Enrolment.State.LEFT, done_at=timezone.now(), next_run_at=None
        )
    locked.status = target
    locked.modified_at = timezone.now()
    locked.save(update_fields=["status", "modified_at"])
    listened_forget()
    return locked


def _test_runs_stop(journey: Journey, why: str) -> None:
    """End ``journey``'s running test run, saying why in its log (journey locked)."""
    now = timezone.now()
    for run in TestRun.objects.select_for_update().filter(
        journey=journey, state=TestRun.State.RUNNING
    ):
        TestRunEntry.objects.create(
            run=run,
            seq=run.seq + 1,
            step_key=run.step.key if run.step else "",
            step_type=run.step.type if run.step else "",
            outcome=TestRunEntry.Outcome.STOPPED,
            detail=why[:300],
            created_at=now,
        )
        TestRun.objects.filter(pk=run.pk).update(
            state=TestRun.State.STOPPED, seq=run.seq + 1, done_at=now, next_run_at=None
        )


@transaction.atomic
def journey_test_start(*, journey: Journey, actor, person_id: int) -> TestRun:
    """Put a draft journey (or one in test) in *test* and run ``person_id`` through it
    from its first step (``testruns``): waits shortened, emails to the actor. The
    person must be one the actor reaches (invariant 4), checked here, not only in the
    form. A test run already running is stopped. The caller moves the run on
    (``testruns.advance``) after the commit; the clock does it after each wait."""
    from clarion.people.selectors import people_for

    _check_writer(actor)
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status not in (Journey.Status.DRAFT, Journey.Status.TEST):
        raise ValidationError(_("Only a draft journey can be tested."))
    if not actor.email:
        raise ValidationError(_("Your account has no email address to send the test emails to."))
    person = people_for(actor).filter(pk=person_id).first()
    if person is None:
        raise ValidationError(_("Choose a person you can reach."))
    step = first_step(locked)
    if step is None:
        raise ValidationError(_("The journey has no steps to test."))
    _test_runs_stop(locked, _("Another test was started."))
    run = TestRun.objects.create(
        journey=locked,
        person=person,
        started_by=actor,
        send_to=actor.email,
        version=locked.version,
        step=step,
        next_run_at=timezone.now(),
    )
    if locked.status != Journey.Status.TEST:
        locked.status = Journey.Status.TEST
        locked.modified_at = timezone.now()
        locked.save(update_fields=["status", "modified_at"])
    journey.status = locked.status
    return run


TRIGGER_CHANGE_STATUSES = (Journey.Status.DRAFT, Journey.Status.TEST, Journey.Status.PAUSED)


def trigger_scope_problems(actor, trigger_type_name: str, config: dict[str, Any]) -> list[str]:
    """What in a trigger's settings the actor may not name: a page, event or mailing
    outside their scope (invariant 4). Empty: fine."""
    from clarion.actions.selectors import pages_for
    from clarion.events.selectors import events_for
    from clarion.mailings.selectors import mailings_for

    problems = []
    checks = (
        ("page", pages_for, _("You cannot choose that page.")),
        ("event", events_for, _("You cannot choose that event.")),
        ("mailing", mailings_for, _("You cannot choose that mailing.")),
    )
    for key, reachable, message in checks:
        value = config.get(key)
        if value and not reachable(actor).filter(pk=value).exists():
            problems.append(message)
    return problems


@transaction.atomic
def journey_trigger_set(
    *, journey: Journey, actor, trigger_type: str, trigger_config: dict[str, Any]
) -> Journey:
    """Change what enters people into ``journey`` (a draft, one in test, or a paused
    one; a published journey is paused first). The settings are checked by the
    trigger's form and against the actor's scope. A scheduled trigger's cursor and
    who met a segment trigger are forgotten, so the new trigger starts from now (a
    segment trigger enters everyone who meets it at its first check, as at
    publishing)."""
    from .models import SegmentPresence

    _check_writer(actor)
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status not in TRIGGER_CHANGE_STATUSES:
        raise ValidationError(_("Pause the journey to change its trigger."))
    config = _clean_trigger(trigger_type, trigger_config)
    problems = trigger_scope_problems(actor, trigger_type, config)
    if problems:
        raise ValidationError(problems)
    locked.trigger_type = trigger_type
    locked.trigger_config = config
    locked.trigger_state = {}
    locked.modified_at = timezone.now()
    locked.save(update_fields=["trigger_type", "trigger_config", "trigger_state", "modified_at"])
    SegmentPresence.objects.filter(journey=locked).delete()
    listened_forget()
    return locked


def first_step(journey: Journey, version: int | None = None) -> Step | None:
    return (
        Step.objects.filter(journey=journey, version=version or journey.version)
        .order_by("position", "id")
        .first()
    )


def _in_reach(journey: Journey, person_ids: list[int]) -> list[int]:
    """Those of ``person_ids`` inside the area of the organiser who made ``journey``
    (invariant 4: an area's journey emails, tags and asks about only its own people,
    whatever its trigger matched). National journeys reach everyone."""
    return list(
        Person.objects.filter(pk__in=person_ids)
        .filter(area_subtree_q(journey.area, field="area"))
        .values_list("pk", flat=True)
    )


def enrol(*, journey: Journey, person_id: int, source: dict | None = None) -> bool:
    """Enter ``person_id`` into ``journey`` at its current version's first step, due
    now. Returns False (and writes nothing) when they are in it already, or have been
    and re-entry is not allowed: the database's unique constraints decide, so two
    processes entering the same person at once enter them once. An area's journey
    enters only people of that area (``_in_reach``)."""
    step = first_step(journey)
    if step is None:
        return False
    if journey.area_id is not None and not _in_reach(journey, [person_id]):
        return False
    try:
        with transaction.atomic():
            Enrolment.objects.create(
                journey=journey,
                person_id=person_id,
                version=journey.version,
                step=step,
                once=not journey.reentry_allowed,
                next_run_at=timezone.now(),
                source=source or {},
            )
    except IntegrityError:
        return False
    return True


def enrol_many(*, journey: Journey, person_ids: list[int], source: dict | None = None) -> int:
    """``enrol`` for many people in one statement (scheduled triggers); returns how
    many were entered. Conflicts with the unique constraints are ignored, as in
    ``enrol``."""
    step = first_step(journey)
    if step is None or not person_ids:
        return 0
    if journey.area_id is not None:
        person_ids = _in_reach(journey, person_ids)
        if not person_ids:
            return 0
    now = timezone.now()
    Enrolment.objects.bulk_create(
        [
            Enrolment(
                journey=journey,
                person_id=pk,
                version=journey.version,
                step=step,
                once=not journey.reentry_allowed,
                next_run_at=now,
                entered_at=now,
                source=source or {},
            )
            for pk in person_ids
        ],
        ignore_conflicts=True,
        batch_size=2000,
    )
    return Enrolment.objects.filter(
        journey=journey, person_id__in=person_ids, entered_at=now
    ).count()


def organiser_for(person: Person) -> User | None:
    """The organiser nearest above ``person``'s area (the deepest area first; among
    several there, the one with the fewest open to-dos, then the earliest account)."""
    from django.db.models import Count, Q

    if person.area_id is None:
        return None
    ancestors = [int(p) for p in person.area.path.strip("/").split("/") if p]
    return (
        User.objects.filter(role=User.Role.ORGANISER, is_active=True, area_id__in=ancestors)
        .annotate(
            open_todos=Count("journey_todos", filter=Q(journey_todos__status=Todo.Status.OPEN))
        )
        .order_by("-area__depth", "open_todos", "pk")
        .first()
    )


def todo_create(*, step: Step, person: Person) -> Todo:
    """An "ask a human" to-do for the organiser of ``person``'s area (unassigned, and
    so shown to national staff, when the area has none)."""
    return Todo.objects.create(
        journey_id=step.journey_id,
        step=step,
        person=person,
        area_id=person.area_id,
        assignee=organiser_for(person),
        note=step.config.get("note", ""),
    )


@transaction.atomic
def todo_mark(*, todo: Todo, actor, status: str, note: str = "") -> Todo:
    """Record a to-do's outcome (done / not reached). The caller reached the to-do
    through ``selectors.access_todo``."""
    _check_writer(actor)
    if status not in (Todo.Status.DONE, Todo.Status.NOT_REACHED):
        raise ValidationError({"status": _("Choose done or not reached.")})
    locked = Todo.objects.select_for_update().get(pk=todo.pk)
    locked.status = status
    locked.outcome_note = (note or "")[:2000]
    locked.done_at = timezone.now()
    locked.done_by = actor
    locked.save(update_fields=["status", "outcome_note", "done_at", "done_by"])
    return locked


# --- journeys as files ------------------------------------------------------------------


def journey_export(journey: Journey) -> dict[str, Any]:
    """The journey's current version as a JSON-ready dict (``journey_import`` reads it)."""
    steps = []
    for step in Step.objects.filter(journey=journey, version=journey.version).select_related(
        "next", "yes", "no"
    ):
        item: dict[str, Any] = {"key": step.key, "type": step.type, "config": step.config}
        for branch in ("next", "yes", "no"):
            target = getattr(step, branch)
            if target is not None:
                item[branch] = target.key
        steps.append(item)
    return {
        "format": EXPORT_FORMAT,
        "name": journey.name,
        "description": journey.description,
        "reentry_allowed": journey.reentry_allowed,
        "trigger": {"type": journey.trigger_type, "config": journey.trigger_config},
        "steps": steps,
    }


def journey_import(*, data: Any, actor) -> Journey:
    """A draft journey from an exported dict (validated as ``journey_create`` does)."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ValidationError(
            _("This is not a Clarion journey file (format %(format)s).") % {"format": EXPORT_FORMAT}
        )
    unknown = set(data) - {"format", "name", "description", "reentry_allowed", "trigger", "steps"}
    if unknown:
        raise ValidationError(
            _("Unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(str(k)[:40] for k in unknown))}
        )
    trigger = data.get("trigger")
    if not isinstance(trigger, dict):
        raise ValidationError(_("The journey needs a trigger with a type."))
    name = data.get("name")
    if not isinstance(name, str):
        raise ValidationError(_("Give the journey a name."))
    description = data.get("description", "")
    return journey_create(
        actor=actor,
        name=name,
        description=description if isinstance(description, str) else "",
        trigger_type=trigger.get("type"),
        trigger_config=trigger.get("config", {}),
        steps=data.get("steps"),
        reentry_allowed=data.get("reentry_allowed") is True,
    )


def journey_from_template(*, key: str, actor, from_name: str, from_email: str) -> Journey:
    """A draft journey from a shipped template (``library``), sending as given."""
    from .library import template_data

    data = template_data(key, from_name=from_name, from_email=from_email)
    if data is None:
        raise ValidationError(_("There is no such template."))
    return journey_import(data={"format": EXPORT_FORMAT, **data}, actor=actor)


def journey_duplicate(*, journey: Journey, actor) -> Journey:
    """A draft copy of ``journey``'s current version, in the actor's area."""
    data = journey_export(journey)
    data["name"] = (_("Copy of %(name)s") % {"name": journey.name})[:150]
    return journey_import(data=data, actor=actor)
