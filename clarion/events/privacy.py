"""What events hold about a person, for subject access, erasure and merging."""

from __future__ import annotations

from django.db import transaction

from clarion.core import privacy

from .models import CanvassResult, Event, EventEmail, Rsvp


def export(person) -> dict:
    return {
        "rsvps": [
            {
                "event": r.event.title,
                "event_id": r.event_id,
                "starts_at": r.event.starts_at.isoformat(),
                "status": r.status,
                "guests": r.guests,
                "submitted": r.submitted,
                "attendance": r.attendance,
                "walk_in": r.walk_in,
                "source": r.source,
                "referrer": r.referrer,
                "created_at": r.created_at.isoformat(),
                "shifts": [
                    {
                        "label": s.shift.label,
                        "starts_at": s.shift.starts_at.isoformat(),
                        "ends_at": s.shift.ends_at.isoformat(),
                    }
                    for s in r.shift_signups.all()
                ],
                "answers": [
                    {"question": a.question.text, "answer": a.value} for a in r.answers.all()
                ],
            }
            for r in Rsvp.objects.filter(person=person)
            .select_related("event")
            .prefetch_related("shift_signups__shift", "answers__question")
            .order_by("created_at")
        ],
        "canvass_results": [
            {
                "event_id": c.event_id,
                "outcome": c.outcome,
                "support_level": c.support_level,
                "note": c.note,
                "created_at": c.created_at.isoformat(),
            }
            for c in CanvassResult.objects.filter(person=person).order_by("created_at")
        ],
        "hosted_events": list(
            Event.objects.filter(host_person=person).values_list("title", flat=True)
        ),
    }


def erase(person) -> None:
    # Shift signups and answers go with the RSVPs (cascade).
    Rsvp.objects.filter(person=person).delete()
    Rsvp.objects.filter(recruiter=person).update(recruiter=None)
    CanvassResult.objects.filter(person=person).delete()
    EventEmail.objects.filter(person=person).delete()
    Event.objects.filter(host_person=person).update(host_person=None)
    Event.objects.filter(proposed_by=person).update(proposed_by=None)


def merge(survivor, duplicate) -> None:
    # One RSVP per person per event: the survivor keeps theirs where both have one.
    clash = Rsvp.objects.filter(person=survivor).values_list("event_id", flat=True)
    with transaction.atomic():
        Rsvp.objects.filter(person=duplicate, event_id__in=list(clash)).delete()
        Rsvp.objects.filter(person=duplicate).update(person=survivor)
        Rsvp.objects.filter(recruiter=duplicate).update(recruiter=survivor)
        sent = set(EventEmail.objects.filter(person=survivor).values_list("event_id", "kind"))
        for row in EventEmail.objects.filter(person=duplicate):
            if (row.event_id, row.kind) in sent:
                row.delete()
        EventEmail.objects.filter(person=duplicate).update(person=survivor)


privacy.register("events", export=export, erase=erase, merge=merge)
