"""What action pages hold about a person, for subject access, erasure and merging."""

from __future__ import annotations

from django.db.models import Count, Min, Q

from clarion.core import privacy
from clarion.people.normalise import canonical_email

from .models import Submission


def _addresses(person) -> list[str]:
    """The canonical forms of every address ``person`` uses."""
    emails = [person.email, *person.other_emails.values_list("email", flat=True)]
    return sorted({canonical_email(e) for e in emails if e})


def _in_intake(person) -> Q:
    """Rows still in intake (no person yet) from one of ``person``'s addresses."""
    return Q(processed_at__isnull=True, email_canonical__in=_addresses(person))


def export(person) -> dict:
    rows = (
        Submission.objects.filter(Q(person=person) | _in_intake(person))
        .select_related("page")
        .order_by("created_at")
    )
    return {
        "submissions": [
            {
                "page": s.page.title,
                "page_slug": s.page.slug,
                "kind": s.page.kind,
                "status": s.status,
                "created_at": s.created_at.isoformat(),
                "answers": s.answers,
                "submitted": s.submitted,
                "comment": s.comment,
                "show_name": s.show_name,
                "consent_given": s.consent_given,
                "consent_wording": s.consent_wording,
                "source": s.source,
                "referrer": s.referrer,
                "utm": s.utm,
            }
            for s in rows
        ]
    }


def erase(person) -> None:
    Submission.objects.filter(person=person).delete()
    # Their signatures still in intake go too (invariant 7). A row a worker holds is
    # skipped rather than waited for (the worker may be waiting for this person's
    # lock): the worker sees the erasure's suppression row and drops it itself.
    waiting = (
        Submission.objects.filter(_in_intake(person))
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    Submission.objects.filter(pk__in=list(waiting)).delete()
    # Submissions they recruited stay (they belong to other people) but lose the link.
    Submission.objects.filter(recruiter=person).update(recruiter=None)


def merge(survivor, duplicate) -> None:
    Submission.objects.filter(person=duplicate).update(person=survivor)
    Submission.objects.filter(recruiter=duplicate).update(recruiter=survivor)
    Submission.objects.filter(recruiter=survivor, person=survivor).update(recruiter=None)
    # One person counts once per page: keep their first counted submission.
    doubled = (
        Submission.objects.filter(person=survivor, status=Submission.Status.CONFIRMED)
        .values("page")
        .annotate(n=Count("id"), first=Min("id"))
        .filter(n__gt=1)
    )
    for row in doubled:
        Submission.objects.filter(
            person=survivor, page_id=row["page"], status=Submission.Status.CONFIRMED
        ).exclude(pk=row["first"]).update(
            status=Submission.Status.INVALID, invalid_reason="merged duplicate"
        )


privacy.register("actions", export=export, erase=erase, merge=merge)
