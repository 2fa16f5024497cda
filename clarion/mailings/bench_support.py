"""Helpers for bench/blast.py, bench/blast_crash.py and the kill test: they run in
``clarion shell -c`` subprocesses against a throwaway database."""

from __future__ import annotations

import json

from django.db import transaction

BODY = (
    'Dear {{ first_name|default:"friend" }},\n\nWe need you in {{ area|default:"your area" }}. '
    "[Sign the petition](https://clarion.example.org/act/save-the-library/)\n\nThanks!"
)


def seed(n: int) -> None:
    """``n`` subscribed people with distinct addresses (bulk insert, for speed)."""
    from django.utils import timezone

    from clarion.people.models import Person

    now = timezone.now()
    start = Person.objects.count()
    batch = []
    for i in range(start, start + n):
        batch.append(
            Person(
                first_name=f"Ann{i}",
                last_name="Bench",
                email=f"p{i}@bench.example",
                email_status="subscribed",
                created_at=now,
                modified_at=now,
            )
        )
        if len(batch) == 5000:
            Person.objects.bulk_create(batch)
            batch = []
    if batch:
        Person.objects.bulk_create(batch)


def make(*, rate: int = 0, name: str = "Bench") -> int:
    from clarion.core.models import User
    from clarion.people.models import Segment

    from .models import Mailing
    from .services import mailing_save

    admin = User.objects.filter(email="bench@example.org").first() or User.objects.create_user(
        email="bench@example.org", password="x-bench-password", role="admin"
    )
    segment = Segment.objects.get_or_create(
        name="Everyone (bench)", defaults={"definition": {"op": "all", "conditions": []}}
    )[0]
    mailing = mailing_save(
        mailing=Mailing(
            name=name,
            subject="{{ first_name }}, one thing today",
            from_name="Clarion Bench",
            from_email="hq@clarion.example.org",
            body=BODY,
            segment=segment,
            rate_per_second=rate,
        ),
        actor=admin,
    )
    return mailing.pk


def send(mailing_id: int) -> None:
    from .models import Mailing
    from .services import mailing_send

    mailing = Mailing.objects.get(pk=mailing_id)
    with transaction.atomic():
        mailing_send(mailing=mailing, actor=mailing.created_by)


def status(mailing_id: int) -> str:
    from django.db.models import Count

    from .models import Mailing, Recipient

    counts = dict(
        Recipient.objects.filter(mailing_id=mailing_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    m = Mailing.objects.get(pk=mailing_id)
    return json.dumps(
        {
            "status": m.status,
            "counts": counts,
            "started": m.started_at.timestamp() if m.started_at else None,
            "finished": m.finished_at.timestamp() if m.finished_at else None,
        }
    )


def emails_by_status(mailing_id: int) -> str:
    from .models import Recipient

    return json.dumps(
        {
            e: s
            for e, s in Recipient.objects.filter(mailing_id=mailing_id).values_list(
                "email", "status"
            )
        }
    )
