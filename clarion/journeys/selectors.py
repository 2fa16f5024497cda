"""Reads for journeys: the staff user's journeys and to-dos, and per-step figures."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from clarion.areas.selectors import area_subtree_q
from clarion.mailings.models import Event, Recipient
from clarion.people.selectors import people_for

from .models import Enrolment, Journey, Step, StepRun, TestRun, Todo


def journeys_for(user) -> QuerySet[Journey]:
    """National staff see every journey; organisers and area analysts those made
    inside their area subtree."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Journey.objects.none()
    scope = user.scope_area
    if scope is None:
        return Journey.objects.all()
    return Journey.objects.filter(area_subtree_q(scope, field="area"))


def access_journey(user, journey_id, *, write: bool = False) -> Journey:
    try:
        pk = int(journey_id)
    except (TypeError, ValueError):
        raise Http404 from None
    journey = journeys_for(user).select_related("area").filter(pk=pk).first()
    if journey is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return journey


def todos_for(user, *, open_only: bool = True) -> QuerySet[Todo]:
    """The "ask a human" to-dos ``user`` should act on: those assigned to them, and
    those nobody could be assigned (no organiser for the area) about people in their
    scope. Only people ``people_for(user)`` reaches, always."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Todo.objects.none()
    qs = Todo.objects.filter(Q(assignee=user) | Q(assignee__isnull=True)).filter(
        person__in=people_for(user)
    )
    if open_only:
        qs = qs.filter(status=Todo.Status.OPEN)
    return qs.select_related("person", "journey").order_by("created_at", "id")


def dashboard_todos(user, area=None, *, limit: int = 50) -> tuple[list[Todo], int]:
    """The oldest ``limit`` open to-dos for the organiser dashboard and how many there
    are, narrowed to ``area`` (which the caller checked is inside ``user``'s scope;
    None: the whole scope). Organisers get ``todos_for`` (theirs, and the unassigned
    ones about people they reach); national staff every open to-do, as they may pick
    any area. The people table is read only when there is an open to-do at all, so
    the dashboard of an area with nothing to do costs one small query."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return [], 0
    national = user.scope_area is None
    candidates = Todo.objects.filter(status=Todo.Status.OPEN)
    if not national:
        candidates = candidates.filter(Q(assignee=user) | Q(assignee__isnull=True))
    if not candidates.exists():
        return [], 0
    qs = candidates if national else todos_for(user)
    if area is not None:
        qs = qs.filter(area_subtree_q(area, field="person__area"))
    total = qs.count()
    rows = list(
        qs.select_related("person", "journey", "assignee").order_by("created_at", "id")[:limit]
    )
    return rows, total


def access_todo(user, todo_id) -> Todo:
    try:
        pk = int(todo_id)
    except (TypeError, ValueError):
        raise Http404 from None
    if getattr(user, "is_authenticated", False) and user.is_active and user.scope_area is None:
        # National staff may act on any to-do (they see them all on the dashboard).
        todo = Todo.objects.filter(pk=pk).select_related("person", "journey").first()
    else:
        todo = todos_for(user, open_only=False).filter(pk=pk).first()
    if todo is None:
        raise Http404
    return todo


def step_stats(journey: Journey, version: int | None = None) -> list[dict]:
    """Per step of a version, in order: entered (people who reached it), waiting now,
    passed, left there, converted there, for email steps the ledger's sent, opened
    and clicked (unique people), and for "ask a human" steps their to-dos still open,
    done and not reached."""
    version = version or journey.version
    steps = list(Step.objects.filter(journey=journey, version=version))
    runs = {
        (row["step_id"], row["outcome"]): row["n"]
        for row in StepRun.objects.filter(step__in=steps)
        .values("step_id", "outcome")
        .annotate(n=Count("enrolment_id", distinct=True))
    }
    reached = dict(
        StepRun.objects.filter(step__in=steps)
        .values("step_id")
        .annotate(n=Count("enrolment_id", distinct=True))
        .values_list("step_id", "n")
    )
    here = {
        (row["step_id"], row["state"]): row["n"]
        for row in Enrolment.objects.filter(journey=journey, version=version, step__in=steps)
        .values("step_id", "state")
        .annotate(n=Count("id"))
    }
    mailing_ids = [s.mailing_id for s in steps if s.mailing_id]
    sent = dict(
        Recipient.objects.filter(mailing_id__in=mailing_ids, status=Recipient.Status.SENT)
        .values("mailing_id")
        .annotate(n=Count("id"))
        .values_list("mailing_id", "n")
    )
    tracked = {
        (row["mailing_id"], row["kind"]): row["n"]
        for row in Event.objects.filter(
            mailing_id__in=mailing_ids, kind__in=[Event.Kind.OPEN, Event.Kind.CLICK], machine=False
        )
        .values("mailing_id", "kind")
        .annotate(n=Count("recipient_id", distinct=True))
    }
    todos = {
        (row["step_id"], row["status"]): row["n"]
        for row in Todo.objects.filter(step__in=[s for s in steps if s.type == "human"])
        .values("step_id", "status")
        .annotate(n=Count("id"))
    }
    out = []
    for step in steps:
        passed = sum(
            runs.get((step.pk, o), 0)
            for o in (
                StepRun.Outcome.DONE,
                StepRun.Outcome.YES,
                StepRun.Outcome.NO,
                StepRun.Outcome.QUEUED,
                StepRun.Outcome.SKIPPED,
                StepRun.Outcome.COMPLETED,
            )
        )
        out.append(
            {
                "step": step,
                "entered": reached.get(step.pk, 0),
                "waiting": here.get((step.pk, Enrolment.State.ACTIVE), 0),
                "passed": passed,
                "left": here.get((step.pk, Enrolment.State.LEFT), 0),
                "converted": runs.get((step.pk, StepRun.Outcome.CONVERTED), 0),
                "yes": runs.get((step.pk, StepRun.Outcome.YES), 0),
                "no": runs.get((step.pk, StepRun.Outcome.NO), 0),
                "sent": sent.get(step.mailing_id, 0),
                "opened": tracked.get((step.mailing_id, Event.Kind.OPEN), 0),
                "clicked": tracked.get((step.mailing_id, Event.Kind.CLICK), 0),
                "todo_open": todos.get((step.pk, Todo.Status.OPEN), 0),
                "todo_done": todos.get((step.pk, Todo.Status.DONE), 0),
                "todo_not_reached": todos.get((step.pk, Todo.Status.NOT_REACHED), 0),
            }
        )
    return out


def journey_totals(journey: Journey) -> dict:
    """People by how their way through the journey stands, and the money given by
    those who reached its goal, counted from when they entered (net of refunds)."""
    from django.db.models import F, OuterRef, Subquery, Sum

    from clarion.core.money import format_money
    from clarion.donations.models import Donation

    states = dict(
        Enrolment.objects.filter(journey=journey)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    entered_at = Enrolment.objects.filter(
        journey=journey, person=OuterRef("person"), state=Enrolment.State.CONVERTED
    ).values("entered_at")[:1]
    pence = (
        Donation.objects.filter(
            status=Donation.Status.SUCCEEDED,
            person__journey_enrolments__journey=journey,
            person__journey_enrolments__state=Enrolment.State.CONVERTED,
        )
        .annotate(since=Subquery(entered_at))
        .filter(succeeded_at__gte=F("since"))
        .aggregate(total=Sum(F("amount_pence") - F("refunded_pence")))["total"]
        or 0
    )
    return {
        "entered": sum(states.values()),
        "active": states.get(Enrolment.State.ACTIVE, 0),
        "completed": states.get(Enrolment.State.COMPLETED, 0),
        "converted": states.get(Enrolment.State.CONVERTED, 0),
        "left": states.get(Enrolment.State.LEFT, 0),
        "money_pence": pence,
        "money": format_money(pence),
    }


TEST_MATCHES = 10


def test_people(user, query: str) -> list:
    """People ``user`` may test a journey with, matching an email or a name (the
    staff search's rules), at most ``TEST_MATCHES``. Nobody outside the user's scope
    is ever found (invariant 4)."""
    from clarion.people.selectors import people_search

    query = (query or "").strip()[:254]
    if not query:
        return []
    return list(
        people_search(people_for(user), query)
        .select_related("area")
        .order_by("last_name", "first_name", "pk")[:TEST_MATCHES]
    )


def latest_test_run(journey: Journey, user) -> TestRun | None:
    """The journey's latest test run (None: never tested). Its person and log (which
    tells what would be done to them) only for a ``user`` who reaches the person
    (invariant 4): ``run.visible``; others see that a test ran, and its state."""
    run = (
        TestRun.objects.filter(journey=journey)
        .select_related("person", "started_by")
        .order_by("-started_at", "-id")
        .first()
    )
    if run is not None:
        run.visible = people_for(user).filter(pk=run.person_id).exists()
        run.log = list(run.entries.order_by("seq")) if run.visible else []
    return run
