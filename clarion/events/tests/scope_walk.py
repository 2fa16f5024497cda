"""The events app's part of the scope walk (clarion/core/tests/test_scope_walk.py):
URL parameters for the events URLs the core walk does not list, South shifts,
questions and answers in the world, and the rows they hang off a person."""

from __future__ import annotations

import datetime

# URL name -> function(world) -> kwargs (or a list of kwargs).
URL_KWARGS = {
    **{
        f"events_staff:{name}": (lambda w: [{"pk": w.south_event.pk}, {"pk": w.north_event.pk}])
        for name in ("message", "sheet", "export", "segment", "checkin_find")
    },
    **{
        f"events:{name}": (lambda w: {"pk": w.south_event.pk, "token": "bad-token"})
        for name in ("host_message", "host_sheet", "host_questions", "host_canvass", "host_find")
    },
    "events:manage_ics": lambda w: {"pk": w.south_event.pk, "token": "bad-token"},
    # The API (events and attendances).
    "api:event": lambda w: [{"event_id": w.south_event.pk}, {"event_id": w.north_event.pk}],
    "api:event_attendances": lambda w: [
        {"event_id": w.south_event.pk},
        {"event_id": w.north_event.pk},
    ],
    "api:event_attendance": lambda w: [
        {"event_id": w.south_event.pk, "attendance_id": w.south_rsvp.pk},
        {"event_id": w.north_event.pk, "attendance_id": w.south_north_rsvp.pk},
    ],
    "api:person_attendances": lambda w: {"person_id": w.south.pk},
    "api:person_attendance": lambda w: {
        "person_id": w.south.pk,
        "attendance_id": w.south_north_rsvp.pk,
    },
}


def extend_world(w) -> None:
    """A shift and a question on the South and the North event; the South person signs
    up and answers with their contact details (so a leak would show a marker)."""
    from clarion.events.models import Question, Shift
    from clarion.events.services import rsvp_change

    for name, event, rsvp in (
        ("south", w.south_event, w.south_rsvp),
        ("north", w.north_event, w.south_north_rsvp),
    ):
        shift = Shift.objects.create(
            event=event,
            label="Morning",
            starts_at=event.starts_at,
            ends_at=event.starts_at + datetime.timedelta(hours=1),
            capacity=5,
        )
        question = Question.objects.create(event=event, text="How can we reach you on the day?")
        rsvp_change(
            rsvp=rsvp,
            guests=0,
            shift_ids=[shift.pk],
            answers={question.pk: f"Text {w.south.phone} or {w.south.email}"},
        )
        setattr(w, f"{name}_shift", shift)
        setattr(w, f"{name}_question", question)


def snapshot(person_id: int):
    from clarion.events.models import Answer, ShiftSignup

    return {
        "shifts": list(
            ShiftSignup.objects.filter(rsvp__person_id=person_id)
            .order_by("pk")
            .values_list("pk", "shift_id", "rsvp_id")
        ),
        "answers": list(
            Answer.objects.filter(rsvp__person_id=person_id)
            .order_by("pk")
            .values_list("pk", "question_id", "value")
        ),
    }
