"""What mailings hold about a person, for subject access, erasure and merging.

Erasure anonymises ledger rows (person and address removed) rather than deleting
them, so a mailing's report keeps its totals; the events keep no personal data (their
``person``, a copy of the ledger row's, is cleared with it and follows it on merging).
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from clarion.core import privacy

from .models import Event, OptOut, Recipient


def export(person) -> dict:
    rows = Recipient.objects.filter(person=person).select_related("mailing").order_by("id")
    return {
        "mailings": [
            {
                "mailing": r.mailing.name,
                "subject": r.mailing.subject,
                "email": r.email,
                "status": r.status,
                "reason": r.reason,
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                "events": list(
                    Event.objects.filter(recipient=r).order_by("id").values_list("kind", flat=True)
                ),
            }
            for r in rows
        ],
        "opted_out_of": list(
            OptOut.objects.filter(person=person).values_list("category", flat=True)
        ),
        # The same choices with the words the person was shown, where and when.
        "opted_out_records": [
            {
                "category": o.category,
                "wording": o.wording,
                "source": o.source,
                "at": o.created_at.isoformat(),
            }
            for o in OptOut.objects.filter(person=person).order_by("created_at", "pk")
        ],
    }


def erase(person) -> None:
    Recipient.objects.filter(person=person).update(person=None, email="", email_hash="", reason="")
    Event.objects.filter(person=person).update(person=None)
    OptOut.objects.filter(person=person).delete()


def merge(survivor, duplicate) -> None:
    # Where both were in one mailing, the duplicate's row stays (anonymised) so the
    # report's totals hold; elsewhere the rows move to the survivor.
    both = Recipient.objects.filter(person=survivor).values("mailing_id")
    Recipient.objects.filter(person=duplicate, mailing_id__in=both).update(person=None)
    Recipient.objects.filter(person=duplicate).update(person=survivor)
    # Each event keeps its ledger row's person: the survivor, or none where anonymised.
    Event.objects.filter(person=duplicate).update(
        person=Subquery(Recipient.objects.filter(pk=OuterRef("recipient_id")).values("person_id"))
    )
    have = OptOut.objects.filter(person=survivor).values("category")
    OptOut.objects.filter(person=duplicate, category__in=have).delete()
    OptOut.objects.filter(person=duplicate).update(person=survivor)


privacy.register("mailings", export=export, erase=erase, merge=merge)
