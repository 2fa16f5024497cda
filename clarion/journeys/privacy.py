"""What journeys hold about a person (enrolments, step runs, to-dos, segment triggers
met), for subject
access, erasure and merging (invariant 7)."""

from __future__ import annotations

from clarion.core import privacy

from .models import Enrolment, SegmentPresence, TestRun, Todo


def export(person) -> dict:
    return {
        "enrolments": [
            {
                "journey": e.journey.name,
                "journey_id": e.journey_id,
                "version": e.version,
                "state": e.state,
                "entered_at": e.entered_at.isoformat(),
                "done_at": e.done_at.isoformat() if e.done_at else None,
                "steps": [
                    {
                        "step": r.step.key,
                        "type": r.step.type,
                        "outcome": r.outcome,
                        "detail": r.detail,
                        "at": r.created_at.isoformat(),
                    }
                    for r in e.runs.select_related("step").order_by("seq")
                ],
            }
            for e in Enrolment.objects.filter(person=person)
            .select_related("journey")
            .order_by("entered_at", "id")
        ],
        "todos": [
            {
                "journey_id": t.journey_id,
                "note": t.note,
                "status": t.status,
                "outcome_note": t.outcome_note,
                "created_at": t.created_at.isoformat(),
                "done_at": t.done_at.isoformat() if t.done_at else None,
            }
            for t in Todo.objects.filter(person=person).order_by("created_at", "id")
        ],
        # Staff's test runs of draft journeys with this person (nothing was done to
        # them; the log says what would have been).
        "test_runs": [
            {
                "journey_id": r.journey_id,
                "state": r.state,
                "started_at": r.started_at.isoformat(),
                "log": [
                    {
                        "step": e.step_key,
                        "type": e.step_type,
                        "outcome": e.outcome,
                        "detail": e.detail,
                        "at": e.created_at.isoformat(),
                    }
                    for e in r.entries.order_by("seq")
                ],
            }
            for r in TestRun.objects.filter(person=person).order_by("started_at", "id")
        ],
        # Journeys whose segment trigger they met at its last check.
        "segment_triggers_met": sorted(
            SegmentPresence.objects.filter(person=person).values_list("journey_id", flat=True)
        ),
    }


def erase(person) -> None:
    # Step runs go with the enrolments (cascade).
    Enrolment.objects.filter(person=person).delete()
    Todo.objects.filter(person=person).delete()
    TestRun.objects.filter(person=person).delete()  # their log entries go with them
    SegmentPresence.objects.filter(person=person).delete()


def merge(survivor, duplicate) -> None:
    """The survivor keeps their own enrolment where both were in a journey (the
    unique constraints allow one); the duplicate's others and all to-dos move."""
    both = set(Enrolment.objects.filter(person=survivor).values_list("journey_id", flat=True))
    Enrolment.objects.filter(person=duplicate, journey_id__in=both).delete()
    Enrolment.objects.filter(person=duplicate).update(person=survivor)
    Todo.objects.filter(person=duplicate).update(person=survivor)
    TestRun.objects.filter(person=duplicate).update(person=survivor)
    # Whether the survivor meets a segment is worked out again at the next check.
    SegmentPresence.objects.filter(person=duplicate).delete()


privacy.register("journeys", export=export, erase=erase, merge=merge)
