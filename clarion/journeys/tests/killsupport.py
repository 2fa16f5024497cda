"""Helpers for the journeys kill test, run in ``clarion shell -c`` subprocesses
against a throwaway database (see clarion/mailings/tests/killtest.py)."""

from __future__ import annotations

import json

EXPECTED = [("tag", "done"), ("hello", "queued"), ("tag2", "done"), ("end", "completed")]


def seed(n: int) -> int:
    """``n`` subscribed people entered into a published journey; returns its id."""
    from django.utils import timezone

    from clarion.core.models import User
    from clarion.journeys import services
    from clarion.journeys.models import Enrolment
    from clarion.people.models import Person

    now = timezone.now()
    Person.objects.bulk_create(
        [
            Person(
                first_name=f"Kim{i}",
                last_name="Kill",
                email=f"k{i}@kill.example",
                email_status="subscribed",
                created_at=now,
                modified_at=now,
            )
            for i in range(n)
        ]
    )
    admin = User.objects.create_user(email="kill@example.org", password="x-kill-pass", role="admin")
    journey = services.journey_create(
        actor=admin,
        name="Kill test",
        trigger_type="tag_added",
        trigger_config={"tag": "never"},
        steps=[
            {"key": "tag", "type": "tag_add", "config": {"tag": "step one"}, "next": "hello"},
            {
                "key": "hello",
                "type": "email",
                "config": {
                    "subject": "Hello {{ first_name }}",
                    "body": "Dear {{ first_name }}, hello.",
                    "from_name": "Kill",
                    "from_email": "kill@example.org",
                },
                "next": "tag2",
            },
            {"key": "tag2", "type": "tag_add", "config": {"tag": "step three"}, "next": "end"},
            {"key": "end", "type": "end"},
        ],
    )
    journey = services.journey_set_status(journey=journey, actor=admin, move="publish")
    first = services.first_step(journey)
    Enrolment.objects.bulk_create(
        [
            Enrolment(journey=journey, person=p, version=1, step=first, next_run_at=now)
            for p in Person.objects.all()
        ]
    )
    return journey.pk


def advance(batch: int) -> None:
    from clarion.journeys.tasks import journeys_advance

    journeys_advance.enqueue(batch=batch, seconds=600)


def status(journey_id: int) -> str:
    """JSON: enrolment states, people whose step runs are not exactly EXPECTED, the
    email ledger's statuses by address, and tags given more or less than once."""
    from collections import Counter

    from clarion.journeys.models import Enrolment, Step, StepRun
    from clarion.mailings.models import Recipient
    from clarion.people.models import Tagging

    states = Counter(
        Enrolment.objects.filter(journey_id=journey_id).values_list("state", flat=True)
    )
    runs: dict[int, list] = {}
    for pid, seq, key, outcome in (
        StepRun.objects.filter(enrolment__journey_id=journey_id)
        .order_by("enrolment__person_id", "seq")
        .values_list("enrolment__person_id", "seq", "step__key", "outcome")
    ):
        runs.setdefault(pid, []).append((seq, key, outcome))
    wrong = [
        pid
        for pid, rows in runs.items()
        if [(k, o) for _s, k, o in rows] != EXPECTED or [s for s, _k, _o in rows] != [1, 2, 3, 4]
    ]
    mailing = Step.objects.get(journey_id=journey_id, key="hello").mailing_id
    ledger = dict(Recipient.objects.filter(mailing_id=mailing).values_list("email", "status"))
    tags = Counter(Tagging.objects.values_list("person_id", flat=True))
    return json.dumps(
        {
            "states": dict(states),
            "wrong": wrong[:20],
            "ledger": ledger,
            "tag_counts": sorted(set(tags.values())),
        }
    )
