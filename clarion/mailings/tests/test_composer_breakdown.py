"""The audience breakdown on a mailing's page: why the people chosen become fewer
recipients, always ending on the number the sender actually mails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clarion.core.testing import factories
from clarion.mailings import selectors
from clarion.mailings.models import Mailing, OptOut, Recipient
from clarion.people.models import EmailStatus, Person, Segment, Suppression, Tag
from clarion.people.normalise import email_hash
from clarion.people.services import email_status_set, tag_add

from .helpers import make_mailing, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


def _subscribed(postcode, **fields):
    person = factories.person(postcode=postcode, **fields)
    email_status_set(person=person, status=EmailStatus.SUBSCRIBED)
    return person


@pytest.fixture
def crowd(areas, admin):
    """Subscribed people in the North and South, and one of each reason not to mail."""
    north, south = areas.postcodes["north"], areas.postcodes["south"]
    people = {
        "ok": [_subscribed(north) for _ in range(3)] + [_subscribed(south) for _ in range(2)],
        "unsubscribed": _subscribed(north),
        "never": factories.person(postcode=north),
        "bouncing": _subscribed(north),
        "complained": _subscribed(south),
        "no_email": _subscribed(north),
        "listed": _subscribed(north, email="Listed.Person+x@example.net"),
        "opted": _subscribed(south),
        "capped": _subscribed(north),
        "excluded": _subscribed(north, last_name="Excluded"),
    }
    tag_add(person=people["excluded"], tag="Excluded")
    email_status_set(person=people["unsubscribed"], status=EmailStatus.UNSUBSCRIBED)
    email_status_set(person=people["bouncing"], status=EmailStatus.BOUNCING)
    email_status_set(person=people["complained"], status=EmailStatus.COMPLAINED)
    Person.objects.filter(pk=people["no_email"].pk).update(email="")
    Suppression.objects.create(email_hash=email_hash("listed.person@example.net"), reason="x")
    OptOut.objects.create(person=people["opted"], category=Mailing.Category.NEWS)
    earlier = make_mailing(admin, None, name="Earlier")
    Recipient.objects.create(
        mailing=earlier,
        person=people["capped"],
        email=people["capped"].email,
        email_hash=email_hash(people["capped"].email),
        variant=0,
        status=Recipient.Status.SENT,
        sent_at=timezone.now() - timedelta(hours=2),
    )
    return people


def _steps(breakdown) -> dict[str, int]:
    return {label: n for label, n in breakdown["steps"]}


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"frequency_cap_hours": 24},
        {"frequency_cap_hours": 24, "category": Mailing.Category.EVENTS},
        {"excluded": True},
    ],
)
def test_breakdown_ends_on_exactly_who_is_sent(
    admin, areas, crowd, smtp_server, django_capture_on_commit_callbacks, fields
):
    fields = dict(fields)
    everyone = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})
    if fields.pop("excluded", False):
        fields["exclude_segment"] = Segment.objects.create(
            name="Excluded",
            definition={
                "op": "all",
                "conditions": [
                    {"type": "tag", "tags": [Tag.objects.get(name="Excluded").pk], "match": "any"}
                ],
            },
        )
    mailing = make_mailing(admin, everyone, **fields)
    breakdown = selectors.audience_breakdown(mailing, admin)
    planned = set(breakdown["people"].values_list("pk", flat=True))

    assert breakdown["total"] - sum(n for _, n in breakdown["steps"]) == breakdown["recipients"]
    mailing = send_and_work(mailing, admin, django_capture_on_commit_callbacks)
    sent = set(
        Recipient.objects.filter(mailing=mailing, status=Recipient.Status.SENT).values_list(
            "person_id", flat=True
        )
    )
    assert sent == planned and len(sent) == breakdown["recipients"]
    assert len(smtp_server.wait_for(len(sent))) == len(sent)


def test_each_reason_is_counted_once(admin, areas, crowd):
    everyone = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})
    mailing = make_mailing(admin, everyone, frequency_cap_hours=24)
    breakdown = selectors.audience_breakdown(mailing, admin)
    steps = _steps(breakdown)
    assert breakdown["total"] == 14
    assert steps["no email address"] == 1
    assert steps["unsubscribed or never subscribed"] == 2
    assert steps["bounced or complained"] == 2
    assert steps["on the suppression list"] == 1
    assert steps["opted out of News and campaign updates"] == 1
    assert steps["mailed in the last 24 hours (frequency cap)"] == 1
    assert breakdown["recipients"] == 6


def test_organiser_sees_only_their_own_area_in_the_breakdown(
    organiser, organiser_client, admin, areas, crowd, from_addresses
):
    """A national segment, composed by the North's organiser: people of the South are
    in no line of the breakdown (invariant 4), not even as a count."""
    everyone = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})
    mailing = make_mailing(organiser, everyone, from_email="north@clarion.example.org")
    breakdown = selectors.audience_breakdown(mailing, organiser)
    assert breakdown["total"] == 10 and breakdown["recipients"] == 5
    page = organiser_client.get(f"/staff/mailings/{mailing.pk}/").content.decode()
    assert "5 people will receive this mailing." in page
    assert "Why 10 people chosen" in page and "bounced or complained" in page


def test_national_staff_see_people_outside_the_mailings_area(admin, admin_client, areas, crowd):
    everyone = Segment.objects.create(name="Everyone", definition={"op": "all", "conditions": []})
    mailing = make_mailing(admin, everyone)
    Mailing.objects.filter(pk=mailing.pk).update(area=areas.north)
    mailing.refresh_from_db()
    breakdown = selectors.audience_breakdown(mailing, admin)
    assert _steps(breakdown)["outside the mailing's area"] == 4
    assert breakdown["recipients"] == 5
