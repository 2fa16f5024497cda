"""``ledger_add_many``: the standing mailing's ledger rows for many people at once, by
the same rules as ``ledger_add``."""

from __future__ import annotations

import pytest

from clarion.core.testing import factories
from clarion.mailings.models import Recipient
from clarion.mailings.single import ledger_add, ledger_add_many, standing_create
from clarion.people.models import EmailStatus
from clarion.people.normalise import email_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(admin):
    return standing_create(
        name="Welcome",
        subject="Hello {{ first_name }}",
        body="Dear {{ first_name }}, welcome.",
        from_name="Clarion HQ",
        from_email="hq@clarion.example.org",
        area=None,
        actor=admin,
    )


def test_one_queued_row_per_subscribed_person_and_none_for_the_others(areas, mailing):
    people = [factories.person(email_status=EmailStatus.SUBSCRIBED) for _ in range(4)]
    unsubscribed = factories.person(email_status=EmailStatus.UNSUBSCRIBED)
    no_address = factories.person(email_status=EmailStatus.SUBSCRIBED, email="")
    no_address.email = ""
    first = ledger_add(mailing_id=mailing.pk, person=people[0])

    rows = ledger_add_many(
        mailing_id=mailing.pk, people=[*people, unsubscribed, no_address, people[1]]
    )

    assert set(rows) == {p.pk for p in people[1:]}  # the first had a row already
    assert all(r.pk and r.status == Recipient.Status.QUEUED for r in rows.values())
    ledger = Recipient.objects.filter(mailing=mailing)
    assert ledger.count() == 4 and ledger.filter(pk=first.pk).exists()
    row = rows[people[2].pk]
    assert (row.email, row.email_hash) == (people[2].email, email_hash(people[2].email))
    assert ledger_add_many(mailing_id=mailing.pk, people=people) == {}  # at most once
