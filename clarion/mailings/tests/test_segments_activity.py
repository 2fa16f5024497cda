"""Segment condition "email": received, opened (human opens only), clicked and not
opened, equal to a plain recount of the ledger and tracking rows; machine opens from
privacy proxies, bounces, "none of" groups and bad settings."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.core.testing import factories
from clarion.mailings import services
from clarion.mailings.models import Event, Link, Mailing, Recipient
from clarion.people.models import Person
from clarion.people.segments.compiler import clean_definition, describe_tree, validate_definition
from clarion.people.segments.registry import SegmentDefinitionError
from clarion.people.segments.selectors import segment_count, segment_people

HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0"
PROXY = "Mozilla/5.0"  # Apple Mail Privacy Protection's fetch


def _all(*conditions):
    return {"op": "all", "conditions": list(conditions)}


def _not(*conditions):
    return {"op": "not", "conditions": list(conditions)}


def _names(admin, definition) -> set[str]:
    return set(segment_people(admin, definition).values_list("first_name", flat=True))


def _mailing(name: str) -> Mailing:
    return Mailing.objects.create(
        name=name,
        subject=name,
        from_name="HQ",
        from_email="hq@example.org",
        body="Hello",
        status=Mailing.Status.SENT,
    )


def _sent(mailing, person, days_ago, status=Recipient.Status.SENT, bounced=False) -> Recipient:
    return Recipient.objects.create(
        mailing=mailing,
        person=person,
        email=person.email,
        email_hash=f"h{person.pk}",
        status=status,
        bounced=bounced,
        sent_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def _event(recipient, kind, days_ago, *, machine=False):
    # As services._event records it: with the ledger row's person.
    return Event.objects.create(
        mailing=recipient.mailing,
        recipient=recipient,
        person_id=recipient.person_id,
        kind=kind,
        machine=machine,
        created_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


@pytest.fixture
def mail(areas):
    people = {n: factories.person(first_name=n) for n in ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay")}
    last_week, old = _mailing("Last week"), _mailing("Long ago")
    # Ann opened last week's mailing (a real mail client) two days ago.
    ann = _sent(last_week, people["Ann"], 7)
    services.open_record(recipient=ann, user_agent=HUMAN)
    Event.objects.filter(recipient=ann).update(
        created_at=timezone.now() - datetime.timedelta(days=2)
    )
    # Ben's "open" was Apple's privacy proxy fetching the images: not a human open.
    ben = _sent(last_week, people["Ben"], 7)
    services.open_record(recipient=ben, user_agent=PROXY)
    # Cat clicked a link (images off: no open event) in the old mailing.
    cat = _sent(old, people["Cat"], 100)
    _event(cat, Event.Kind.CLICK, 99)
    # Dan: suppressed for last week's, so never received it; received the old one.
    _sent(last_week, people["Dan"], 7, status=Recipient.Status.SUPPRESSED)
    _sent(old, people["Dan"], 100)
    # Eve: last week's bounced; Fay: never mailed.
    _sent(last_week, people["Eve"], 7, bounced=True)
    return {**people, "last_week": last_week, "old": old}


def test_proxy_opens_are_machine_opens(mail):
    assert Event.objects.get(recipient__person=mail["Ben"]).machine is True
    assert Event.objects.get(recipient__person=mail["Ann"]).machine is False


def test_received_equals_a_recount_of_delivered_rows(mail, admin):
    rows = Recipient.objects.filter(status=Recipient.Status.SENT, bounced=False)
    recount = set(
        Person.objects.filter(pk__in=rows.values("person_id")).values_list("first_name", flat=True)
    )
    assert _names(admin, _all({"type": "email", "what": "received"})) == recount
    assert recount == {"Ann", "Ben", "Cat", "Dan"}
    assert _names(admin, _all({"type": "email", "what": "received", "days": 30})) == {"Ann", "Ben"}
    last_week = mail["last_week"].pk
    assert _names(admin, _all({"type": "email", "what": "received", "mailing": last_week})) == {
        "Ann",
        "Ben",
    }


def test_opened_counts_human_opens_and_clicks(mail, admin):
    assert _names(admin, _all({"type": "email", "what": "opened"})) == {"Ann", "Cat"}
    assert _names(admin, _all({"type": "email", "what": "opened", "days": 14})) == {"Ann"}
    assert _names(admin, _all({"type": "email", "what": "opened", "days": 1})) == set()
    assert _names(
        admin, _all({"type": "email", "what": "opened", "mailing": mail["last_week"].pk})
    ) == {"Ann"}


def test_clicked(mail, admin):
    assert _names(admin, _all({"type": "email", "what": "clicked"})) == {"Cat"}
    assert _names(admin, _all({"type": "email", "what": "clicked", "days": 30})) == set()


def test_machine_clicks_do_not_count(mail, admin):
    ben = Recipient.objects.get(person=mail["Ben"])
    _event(ben, Event.Kind.CLICK, 1, machine=True)  # a security scanner following links
    assert "Ben" not in _names(admin, _all({"type": "email", "what": "clicked"}))
    assert "Ben" not in _names(admin, _all({"type": "email", "what": "opened"}))


def test_not_opened_means_received_and_opened_none_of_them(mail, admin):
    # Ben received last week's and only a proxy opened it; Dan received the old one.
    assert _names(admin, _all({"type": "email", "what": "not_opened"})) == {"Ben", "Dan"}
    assert _names(admin, _all({"type": "email", "what": "not_opened", "days": 30})) == {"Ben"}
    assert _names(
        admin, _all({"type": "email", "what": "not_opened", "mailing": mail["old"].pk})
    ) == {"Dan"}
    # Ann opens one of two messages received in the window: she opened, so not counted.
    _sent(mail["old"], mail["Ann"], 3)
    assert "Ann" not in _names(admin, _all({"type": "email", "what": "not_opened", "days": 30}))


def test_none_of_groups_keep_people_never_mailed(mail, admin):
    total = Person.objects.count()
    for what in ("received", "opened", "clicked", "not_opened"):
        yes = segment_count(admin, _all({"type": "email", "what": what}))
        no = segment_count(admin, _not({"type": "email", "what": what}))
        assert yes + no == total, what
    assert _names(admin, _not({"type": "email", "what": "opened", "days": 14})) == {
        "Ben",
        "Cat",
        "Dan",
        "Eve",
        "Fay",
    }


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"what": "read"}, "Select a valid choice"),
        ({"what": "opened", "days": -14}, "greater than or equal to 1"),
        ({"what": "opened", "days": "soon"}, "Enter a whole number"),
        ({"what": "opened", "mailing": 987654321}, "There is no mailing with that id"),
        ({"what": "opened", "window": "ever"}, "unknown settings"),
    ],
)
def test_bad_settings_are_clear_errors(mail, settings, message):
    with pytest.raises(SegmentDefinitionError) as caught:
        validate_definition(_all({"type": "email", **settings}))
    assert any(message in m for m in caught.value.messages), caught.value.messages


def test_described_for_the_segment_page(mail):
    stored = validate_definition(
        _all(
            {"type": "email", "what": "opened", "days": "14"},
            {"type": "email", "what": "not_opened", "mailing": mail["old"].pk},
        )
    )
    assert stored["conditions"][0] == {"type": "email", "what": "opened", "days": 14}
    texts = [c["text"] for c in describe_tree(clean_definition(stored))[0]["children"]]
    assert texts == [
        "Opened an email in the last 14 days",
        "Received but never opened the mailing “Long ago”",
    ]


def test_the_live_count_answers_400_json_for_negative_days(mail, admin_client):
    url = reverse("people:segment_count")
    base = {"g0-op": "all", "node": ["r1"], "r1-type": "email", "r1-group": "g0"}
    ok = admin_client.post(url, {**base, "r1-what": "opened", "r1-days": "14"})
    assert ok.status_code == 200 and ok.json()["count"] == 1
    bad = admin_client.post(url, {**base, "r1-what": "opened", "r1-days": "-14"})
    assert bad.status_code == 400 and bad.json()["errors"]


def _recount(what: str, **filters) -> set[str]:
    """Who opened (or clicked), straight from the tracking rows through their ledger
    rows, without the person copied onto the event."""
    kinds = ["open", "click"] if what == "opened" else ["click"]
    rows = Event.objects.filter(kind__in=kinds, machine=False, **filters)
    ids = rows.values("recipient__person_id")
    return set(Person.objects.filter(pk__in=ids).values_list("first_name", flat=True))


@pytest.mark.parametrize("what", ["opened", "clicked"])
def test_opened_and_clicked_equal_a_recount_through_the_ledger(mail, admin, what):
    dan = Recipient.objects.get(person=mail["Dan"], mailing=mail["old"])
    _event(dan, Event.Kind.OPEN, 20)
    _event(dan, Event.Kind.CLICK, 40)
    assert _names(admin, _all({"type": "email", "what": what})) == _recount(what)
    for days in (1, 14, 30, 365):
        since = timezone.now() - datetime.timedelta(days=days)
        condition = {"type": "email", "what": what, "days": days}
        assert _names(admin, _all(condition)) == _recount(what, created_at__gte=since), days
    old = mail["old"].pk
    assert _names(admin, _all({"type": "email", "what": what, "mailing": old})) == _recount(
        what, mailing_id=old
    )
    assert _recount("opened") == {"Ann", "Cat", "Dan"}


def test_tracking_events_carry_the_ledger_rows_person(mail):
    ann = Recipient.objects.get(person=mail["Ann"])
    link = Link.objects.create(mailing=ann.mailing, index=0, url="https://example.org/")
    click = services.click_record(recipient=ann, link=link, user_agent=HUMAN)
    opened = services.open_record(recipient=ann, user_agent=HUMAN)
    assert click.person_id == opened.person_id == mail["Ann"].pk
    # A ledger row without a person (erased) records events without one.
    ann.person = None
    assert services.open_record(recipient=ann, user_agent=HUMAN).person_id is None


def test_erasure_and_merging_keep_each_events_person_its_ledger_rows(mail, admin):
    from clarion.people.services import person_erase, person_merge

    # Ann opened last week's mailing; Gus, her duplicate, clicked the old one and was
    # also sent last week's (that row is anonymised on merging: Ann has her own).
    gus = factories.person(first_name="Gus")
    _event(_sent(mail["old"], gus, 30), Event.Kind.CLICK, 5)
    _event(_sent(mail["last_week"], gus, 7), Event.Kind.OPEN, 3)
    person_merge(survivor=mail["Ann"], duplicate=gus, actor=admin)
    for event in Event.objects.filter(kind__in=["open", "click"]).select_related("recipient"):
        assert event.person_id == event.recipient.person_id, event
    assert _names(admin, _all({"type": "email", "what": "clicked", "days": 14})) == {"Ann"}
    person_erase(person=mail["Ann"], actor=admin)
    assert not Event.objects.filter(person__isnull=False, recipient__person__isnull=True).exists()
    assert _names(admin, _all({"type": "email", "what": "opened"})) == {"Cat"}


def test_the_migration_fills_in_each_events_person_from_its_ledger_row(mail):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = import_module("clarion.mailings.migrations.0006_event_person")
    Event.objects.update(person=None)
    migration.backfill_person(apps, SimpleNamespace(connection=connection))
    events = Event.objects.select_related("recipient")
    assert events.count() == 3
    assert all(e.person_id == e.recipient.person_id is not None for e in events)
