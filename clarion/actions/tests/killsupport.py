"""Helpers for the intake kill test, run in ``clarion shell -c`` subprocesses against a
throwaway database (see clarion/mailings/tests/killtest.py)."""

from __future__ import annotations

import json

SLUG = "kill-petition"


def seed(n: int) -> None:
    """A live petition and ``n`` signatures waiting in intake, as the public form
    leaves them (one row each, committed, nothing processed)."""
    from clarion.actions.models import ActionPage
    from clarion.actions.services import SubmissionInput, page_save, submission_intake

    page = page_save(
        page=ActionPage(
            kind="petition", slug=SLUG, title="Kill petition", status="live", ask_postcode=False
        )
    )
    for i in range(n):
        submission_intake(
            page=page,
            data=SubmissionInput(
                email=f"signer{i}@kill.example",
                first_name=f"Kim{i}",
                last_name="Kill",
                email_consent=True,
            ),
        )


def process(batch: int) -> None:
    """Queue the intake's processing, as the clock job does."""
    from clarion.actions.tasks import submissions_intake_process

    submissions_intake_process.enqueue(batch=batch, seconds=600)


def status() -> str:
    """JSON: rows still in intake, processed rows, people, their action timeline
    entries and queued thank-you emails, and any of those that is not exactly one per
    signer."""
    from collections import Counter

    from django_tasks_db.models import DBTaskResult

    from clarion.actions.models import Submission
    from clarion.people.models import Activity, Person

    rows = Submission.objects.filter(page__slug=SLUG)
    people = Counter(Person.objects.values_list("email", flat=True))
    per_person = Counter(rows.exclude(person=None).values_list("person_id", flat=True))
    actions = Counter(
        Activity.objects.filter(kind=Activity.Kind.ACTION).values_list("person_id", flat=True)
    )
    created = Counter(
        Activity.objects.filter(kind=Activity.Kind.CREATED).values_list("person_id", flat=True)
    )
    mails = Counter(
        DBTaskResult.objects.filter(task_path="clarion.actions.tasks.submission_email").values_list(
            "args_kwargs__kwargs__submission_id", flat=True
        )
    )
    return json.dumps(
        {
            "rows": rows.count(),
            "in_intake": rows.filter(processed_at=None).count(),
            "processed": rows.exclude(processed_at=None).count(),
            "people": len(people),
            "people_twice": sorted(e for e, n in people.items() if n != 1)[:20],
            "submissions_per_person": sorted(set(per_person.values())),
            "action_entries": sorted(set(actions.values())),
            "action_entry_people": len(actions),
            "created_entries": sorted(set(created.values())),
            "email_tasks": sorted(set(mails.values())),
            "email_task_rows": len(mails),
            "emails_marked_sent": rows.exclude(email_sent_at=None).count(),
        }
    )
