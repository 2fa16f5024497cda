"""Money segment conditions "gifts", "last_gift" and "recurring_active": equal to a
plain recount of the gift rows; refunded, failed and pending gifts, partial refunds,
windows on when a gift succeeded, "none of" groups and bad settings. The older
"donated" condition keeps working for saved segments."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db.models import F, Max, Sum
from django.urls import reverse
from django.utils import timezone

from clarion.core.testing import factories
from clarion.donations.models import Donation, RecurringPlan
from clarion.people.models import Person
from clarion.people.segments.compiler import clean_definition, describe_tree, validate_definition
from clarion.people.segments.registry import SegmentDefinitionError
from clarion.people.segments.selectors import segment_count, segment_people

S, F_, R, P = (
    Donation.Status.SUCCEEDED,
    Donation.Status.FAILED,
    Donation.Status.REFUNDED,
    Donation.Status.PENDING,
)


def _all(*conditions):
    return {"op": "all", "conditions": list(conditions)}


def _not(*conditions):
    return {"op": "not", "conditions": list(conditions)}


def _names(admin, definition) -> set[str]:
    return set(segment_people(admin, definition).values_list("first_name", flat=True))


def _gift(page, person, pence, days_ago, status=S, refunded=0) -> Donation:
    when = timezone.now() - datetime.timedelta(days=days_ago)
    return Donation.objects.create(
        page=page,
        person=person,
        amount_pence=pence,
        refunded_pence=refunded,
        status=status,
        gateway="test",
        created_at=when,
        succeeded_at=when if status in (S, R) else None,
    )


@pytest.fixture
def gifts(areas, donation_page):
    people = {n: factories.person(first_name=n) for n in ("Ann", "Ben", "Cat", "Dan", "Eve")}
    page = donation_page
    # Ann: £10 last week, £25 two months ago, £5 a year ago.
    _gift(page, people["Ann"], 1000, 7)
    _gift(page, people["Ann"], 2500, 60)
    _gift(page, people["Ann"], 500, 365)
    # Ben: £100 refunded in full, £50 of which £30 was refunded, a failed £200.
    _gift(page, people["Ben"], 10000, 3, status=R, refunded=10000)
    _gift(page, people["Ben"], 5000, 3, refunded=3000)
    _gift(page, people["Ben"], 20000, 2, status=F_)
    # Cat: a pending £40 only. Dan: a monthly plan, £5 paid 20 days ago.
    _gift(page, people["Cat"], 4000, 1, status=P)
    plan = RecurringPlan.objects.create(
        person=people["Dan"], page=page, amount_pence=500, gateway="test"
    )
    gift = _gift(page, people["Dan"], 500, 20)
    Donation.objects.filter(pk=gift.pk).update(plan=plan, recurring=True)
    # Eve: a cancelled plan, and an anonymous gift that belongs to nobody.
    RecurringPlan.objects.create(
        person=people["Eve"],
        page=page,
        amount_pence=1000,
        gateway="test",
        status=RecurringPlan.Status.CANCELLED,
    )
    Donation.objects.create(page=page, amount_pence=700, status=S, gateway="test")
    return people


def _counted():
    return Donation.objects.filter(
        status=S, person__isnull=False, refunded_pence__lt=F("amount_pence")
    )


def _who(rows) -> set[str]:
    return set(
        Person.objects.filter(pk__in=rows.values("person_id")).values_list("first_name", flat=True)
    )


def test_count_of_gifts_equals_a_recount(gifts, admin):
    def names(n, **window):
        return _names(admin, _all({"type": "gifts", "measure": "count", "at_least": n, **window}))

    assert names(1) == _who(_counted()) == {"Ann", "Ben", "Dan"}
    assert names(3) == {"Ann"}
    assert names(2, window="last_days", days=90) == {"Ann"}
    assert names(1, window="last_days", days=10) == {"Ann", "Ben"}
    # A blank "at least" is one gift.
    assert _names(admin, _all({"type": "gifts", "measure": "count"})) == {"Ann", "Ben", "Dan"}


def test_total_is_net_of_refunds(gifts, admin):
    def names(amount, **window):
        return _names(
            admin, _all({"type": "gifts", "measure": "total", "at_least": amount, **window})
        )

    totals = dict(
        _counted()
        .values("person__first_name")
        .annotate(t=Sum(F("amount_pence") - F("refunded_pence")))
        .values_list("person__first_name", "t")
    )
    assert totals == {"Ann": 4000, "Ben": 2000, "Dan": 500}
    assert names("40") == {"Ann"}
    assert names("20.00") == {"Ann", "Ben"}  # Ben's £50 less £30 refunded
    assert names("£20.01") == {"Ann"}
    assert names("30", window="last_days", days=30) == set()
    assert names("10", window="last_days", days=30) == {"Ann", "Ben"}


def test_largest_gift(gifts, admin):
    def names(amount):
        return _names(admin, _all({"type": "gifts", "measure": "largest", "at_least": amount}))

    largest = dict(
        _counted()
        .values("person__first_name")
        .annotate(m=Max(F("amount_pence") - F("refunded_pence")))
        .values_list("person__first_name", "m")
    )
    assert {n for n, m in largest.items() if m >= 2500} == names("25") == {"Ann"}
    assert names("20") == {"Ann", "Ben"}  # the refunded £100 and the failed £200 do not count


def test_last_gift_within_days(gifts, admin):
    def names(days):
        return _names(admin, _all({"type": "last_gift", "days": days}))

    assert names(10) == {"Ann", "Ben"}
    assert names(30) == {"Ann", "Ben", "Dan"}
    assert names(1) == set()  # Cat's pending gift is not a gift yet


def test_recurring_active(gifts, admin):
    assert _names(admin, _all({"type": "recurring_active"})) == {"Dan"}  # Eve's was cancelled


def test_none_of_groups(gifts, admin):
    total = Person.objects.count()
    for condition in (
        {"type": "gifts", "measure": "count"},
        {"type": "gifts", "measure": "total", "at_least": "30"},
        {"type": "gifts", "measure": "largest", "at_least": "20"},
        {"type": "last_gift", "days": 10},
        {"type": "recurring_active"},
        {"type": "donated", "amount": "1"},
    ):
        yes = segment_count(admin, _all(condition))
        no = segment_count(admin, _not(condition))
        assert yes + no == total, condition
    lapsed = _all({"type": "gifts", "measure": "count"}, _not({"type": "last_gift", "days": 30}))
    assert _names(admin, lapsed) == set()
    assert _names(
        admin, _all({"type": "gifts", "measure": "count"}, _not({"type": "last_gift", "days": 10}))
    ) == {"Dan"}


def test_donated_still_works(gifts, admin):
    assert _names(admin, _all({"type": "donated", "amount": "20"})) == {"Ann", "Ben"}


@pytest.mark.parametrize(
    "condition, message",
    [
        ({"type": "gifts", "measure": "count", "at_least": "2.5"}, "Enter a whole number"),
        ({"type": "gifts", "measure": "count", "at_least": "-1"}, "Enter a whole number"),
        ({"type": "gifts", "measure": "total"}, "Enter an amount"),
        ({"type": "gifts", "measure": "total", "at_least": "lots"}, "amount"),
        ({"type": "gifts", "measure": "largest", "at_least": "-5"}, "amount"),
        ({"type": "gifts", "measure": "average", "at_least": "5"}, "Select a valid choice"),
        (
            {"type": "gifts", "measure": "count", "window": "last_days", "days": -7},
            "greater than or equal to 1",
        ),
        (
            {
                "type": "gifts",
                "measure": "count",
                "window": "between",
                "start": "2026-04-06",
                "end": "2025-04-05",
            },
            "must not be before",
        ),
        ({"type": "last_gift"}, "This field is required"),
        ({"type": "last_gift", "days": -30}, "greater than or equal to 1"),
        ({"type": "recurring_active", "days": 3}, "unknown settings"),
    ],
)
def test_bad_settings_are_clear_errors(gifts, condition, message):
    with pytest.raises(SegmentDefinitionError) as caught:
        validate_definition(_all(condition))
    assert any(message.lower() in m.lower() for m in caught.value.messages), caught.value.messages


def test_stored_and_described(gifts):
    stored = validate_definition(
        _all(
            {
                "type": "gifts",
                "measure": "total",
                "at_least": "£1,000",
                "window": "last_days",
                "days": 365,
            },
            {"type": "gifts", "measure": "count", "at_least": "3"},
            {"type": "last_gift", "days": "90"},
            {"type": "recurring_active"},
        )
    )
    assert stored["conditions"][0] == {
        "type": "gifts",
        "measure": "total",
        "at_least": "1000.00",
        "window": "last_days",
        "days": 365,
    }
    assert stored["conditions"][1]["at_least"] == 3
    assert validate_definition(stored) == stored
    texts = [c["text"] for c in describe_tree(clean_definition(stored))[0]["children"]]
    assert texts == [
        "Gave at least £1000.00 in total in the last 365 days",
        "Gave at least 3 gifts",
        "Last gift within the last 90 days",
        "Has an active monthly gift",
    ]
    assert isinstance(clean_definition(stored).children[0].params["at_least"], Decimal)


def test_the_live_count_answers_400_json_for_a_bad_amount(gifts, admin_client):
    url = reverse("people:segment_count")
    base = {"g0-op": "all", "node": ["r1"], "r1-type": "gifts", "r1-group": "g0"}
    ok = admin_client.post(url, {**base, "r1-measure": "total", "r1-at_least": "30"})
    assert ok.status_code == 200 and ok.json()["count"] == 1
    bad = admin_client.post(url, {**base, "r1-measure": "total", "r1-at_least": "thirty"})
    assert bad.status_code == 400 and bad.json()["errors"]
    page = admin_client.post(
        reverse("people:segment_new"),
        {"g0-op": "all", "action": "add:g0", "add-type-g0": "recurring_active"},
    )
    assert page.status_code == 200 and "Has an active monthly gift" in page.content.decode()
