"""Freezing the ledger: one row per person, each with the same address hash the
suppression list uses (the hash decides whether a suppressed address is skipped)."""

from __future__ import annotations

import pytest

from clarion.mailings import services
from clarion.mailings.models import Mailing, Recipient
from clarion.people.models import EmailStatus, Person
from clarion.people.normalise import email_hash
from clarion.people.services import email_status_set

from .helpers import make_mailing

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]

# Gmail dots and +tags, mixed case, an address without a Gmail-style tag, and
# non-ASCII ones (hashed in Python, not in SQL, on PostgreSQL).
ADDRESSES = [
    "Nora.North+news@GoogleMail.com",
    "sid+x@Example.NET",
    "plain@example.org",
    "j.o.e@gmail.com",
    "ÜNAL@example.org",
    "ıris@exämple.org",
    "İlke+b@example.org",
]


def test_freeze_writes_one_row_per_person_with_the_python_hash(
    admin, areas, everyone, django_capture_on_commit_callbacks
):
    from clarion.core.testing import factories

    people = []
    for i, address in enumerate(ADDRESSES):
        person = factories.person(
            postcode=areas.postcodes["north"], first_name=f"P{i}", email=f"p{i}@example.net"
        )
        email_status_set(person=person, status=EmailStatus.SUBSCRIBED)
        # Stored as typed: the ledger's hash must not depend on earlier normalising.
        Person.objects.filter(pk=person.pk).update(email=address)
        people.append(person)
    mailing = make_mailing(admin, everyone)
    with django_capture_on_commit_callbacks(execute=False):
        services.mailing_send(mailing=mailing, actor=admin)
        services.mailing_start_now(mailing_id=mailing.pk)

    rows = list(
        Recipient.objects.filter(mailing=mailing).values_list(
            "person_id", "email", "email_hash", "status", "variant"
        )
    )
    assert sorted(r[0] for r in rows) == sorted(p.pk for p in people)
    for _pid, address, hashed, status, variant in rows:
        assert hashed == email_hash(address), address
        assert (status, variant) == (Recipient.Status.QUEUED, 0)
    mailing.refresh_from_db()
    assert mailing.recipient_count == len(ADDRESSES) and mailing.status == Mailing.Status.SENDING
    # Freezing again (a repeated start task) adds nothing.
    services.mailing_start_now(mailing_id=mailing.pk)
    assert Recipient.objects.filter(mailing=mailing).count() == len(ADDRESSES)
