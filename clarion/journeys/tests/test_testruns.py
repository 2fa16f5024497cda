"""A journey in *test*: one chosen person run through it with waits shortened, emails
to the staff member (merged as the person, "[TEST]" in the subject), tags, lists and
to-dos only described in the log, and nothing counted in the journey's figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clarion.core.testing.smtp import body_text
from clarion.journeys import engine, services, testruns
from clarion.journeys.models import Enrolment, Journey, StepRun, TestRun, TestRunEntry, Todo
from clarion.journeys.selectors import journey_totals, step_stats
from clarion.mailings.models import Mailing, Recipient
from clarion.people.models import PersonList, Tag

from .conftest import email_config, make_journey

pytestmark = [
    pytest.mark.usefixtures("mail_settings", "from_addresses"),
    pytest.mark.django_db(transaction=True),
]


def vip_only(vip) -> dict:
    return {"op": "all", "conditions": [{"type": "tag", "tags": [vip.pk], "match": "any"}]}


def full(vip) -> list[dict]:
    return [
        {"key": "hello", "type": "email", "config": email_config(), "next": "tag"},
        {"key": "tag", "type": "tag_add", "config": {"tag": "welcomed"}, "next": "list"},
        {"key": "list", "type": "list_add", "config": {"list": "Helpers"}, "next": "call"},
        {"key": "call", "type": "human", "config": {"note": "Phone them"}, "next": "wait"},
        {"key": "wait", "type": "wait", "config": {"days": 2}, "next": "north"},
        {
            "key": "north",
            "type": "decision",
            "config": {"definition": vip_only(vip)},
            "yes": "vip",
            "no": "ask",
        },
        {"key": "vip", "type": "end"},
        {"key": "ask", "type": "email", "config": email_config(subject="Will you give?")},
    ]


def head(steps: list[dict], n: int) -> list[dict]:
    """The first ``n`` steps, the last of them ending the journey."""
    out = [dict(step) for step in steps[:n]]
    out[-1].pop("next", None)
    return out


@pytest.fixture
def vip(areas):
    return Tag.objects.create(name="vip")


def log_of(run) -> list[tuple[str, str]]:
    return [(e.step_key, e.outcome) for e in TestRunEntry.objects.filter(run=run).order_by("seq")]


def test_a_test_run_shortens_waits_mails_the_staff_member_and_changes_nothing(
    vip, admin, organiser, nora, smtp_server, settings
):
    settings.CLARION_JOURNEY_TEST_WAIT_SECONDS = 90
    journey = make_journey(admin, full(vip), publish=False)
    run = services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    journey.refresh_from_db()
    assert journey.status == Journey.Status.TEST
    start = timezone.now()
    assert testruns.advance(run_id=run.pk, now=start)

    # Up to the wait: the email went to the staff member, merged as Nora, marked.
    run.refresh_from_db()
    assert run.waiting and run.next_run_at == start + timedelta(seconds=90)
    assert log_of(run) == [
        ("hello", "sent"),
        ("tag", "would"),
        ("list", "would"),
        ("call", "would"),
        ("wait", "waiting"),
    ]
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"].endswith("<admin@example.org>")
    assert mail["Subject"] == "[TEST] Thank you, Nora"
    assert "Dear Nora" in body_text(mail)
    assert smtp_server.to("nora@example.net") == []
    entries = {e.step_key: e.detail for e in TestRunEntry.objects.filter(run=run)}
    assert entries["hello"] == "Sent to admin@example.org (for real, sent to the person)"
    assert entries["tag"] == "Would add the tag “welcomed”"
    assert entries["list"] == "Would add them to the list “Helpers”"
    assert entries["call"] == "Would ask north@example.org: Phone them"
    assert "in this test until" in entries["wait"]
    # Nothing was done to Nora.
    assert not nora.taggings.exists() and not nora.list_memberships.exists()
    assert not Tag.objects.filter(name="welcomed").exists()
    assert not PersonList.objects.filter(name="Helpers").exists()
    assert not Todo.objects.exists() and not Recipient.objects.exists()

    # Not yet due: nothing moves. After the shortened wait, the decision and the ask.
    assert testruns.advance_due(now=start + timedelta(seconds=89)) == 0
    assert testruns.advance_due(now=start + timedelta(seconds=91)) == 1
    run.refresh_from_db()
    assert run.state == TestRun.State.COMPLETED
    assert log_of(run)[5:] == [
        ("wait", "waited"),
        ("north", "no"),
        ("ask", "sent"),
        ("ask", "completed"),
    ]
    smtp_server.wait_for(2)
    assert [m["Subject"] for m in smtp_server.to("admin@example.org")] == [
        "[TEST] Thank you, Nora",
        "[TEST] Will you give?",
    ]

    # None of it counts: no enrolment, no step run, no standing mailing, zero figures.
    assert not Enrolment.objects.exists() and not StepRun.objects.exists()
    assert not Mailing.objects.exists()
    assert journey_totals(journey)["entered"] == 0
    assert all(row["entered"] == 0 for row in step_stats(journey))


def test_a_decision_and_a_goal_are_read_for_real_in_a_test(vip, admin, nora, smtp_server):
    from clarion.people.services import tag_add

    tag_add(person=nora, tag=vip.name)
    journey = make_journey(admin, full(vip), publish=False)
    run = services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    testruns.advance(run_id=run.pk, now=timezone.now())
    testruns.advance(run_id=run.pk, now=timezone.now() + timedelta(minutes=5))
    run.refresh_from_db()
    assert log_of(run)[-2:] == [("north", "yes"), ("vip", "completed")]
    assert run.state == TestRun.State.COMPLETED

    goal = [
        {
            "key": "gave",
            "type": "goal",
            "config": {"definition": vip_only(vip)},
            "next": "hello",
        },
        {"key": "hello", "type": "email", "config": email_config()},
    ]
    converted = make_journey(admin, goal, publish=False, name="Goal")
    run = services.journey_test_start(journey=converted, actor=admin, person_id=nora.pk)
    testruns.advance(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == TestRun.State.CONVERTED
    assert log_of(run) == [("gave", "converted")]
    assert journey_totals(converted)["converted"] == 0


def test_nobody_enters_a_journey_in_test_and_publishing_from_test_works(
    vip, admin, nora, sid, smtp_server
):
    from clarion.people.services import tag_add

    journey = make_journey(admin, full(vip), publish=False)
    services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    tag_add(person=sid, tag="welcome")  # the journey's trigger
    assert not Enrolment.objects.exists()

    journey = services.journey_set_status(journey=journey, actor=admin, move="publish")
    assert journey.status == Journey.Status.PUBLISHED
    run = TestRun.objects.get()
    assert run.state == TestRun.State.STOPPED and log_of(run)[-1][1] == "stopped"
    tag_add(person=nora, tag="welcome")
    # The person tested with enters for real like anyone else.
    assert Enrolment.objects.filter(journey=journey, person=nora).exists()
    engine.advance_due()
    assert StepRun.objects.filter(enrolment__person=nora).exists()


def test_back_to_draft_stops_the_test_and_allows_editing(vip, admin, nora, smtp_server):
    journey = make_journey(admin, full(vip), publish=False)
    services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    with pytest.raises(ValidationError, match="go back to draft"):
        services.journey_steps_replace(journey=journey, actor=admin, steps=head(full(vip), 1))
    services.journey_set_status(journey=journey, actor=admin, move="draft")
    journey.refresh_from_db()
    assert journey.status == Journey.Status.DRAFT
    assert TestRun.objects.get().state == TestRun.State.STOPPED
    assert (
        services.journey_steps_replace(journey=journey, actor=admin, steps=head(full(vip), 1)) == 1
    )
    # Stopped runs are not moved on.
    assert testruns.advance_due(now=timezone.now() + timedelta(days=3)) == 0


def test_a_second_test_stops_the_first_and_only_drafts_are_tested(
    vip, admin, nora, sid, smtp_server
):
    journey = make_journey(admin, full(vip), publish=False)
    first = services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    second = services.journey_test_start(journey=journey, actor=admin, person_id=sid.pk)
    first.refresh_from_db()
    assert first.state == TestRun.State.STOPPED
    assert second.state == TestRun.State.RUNNING
    published = make_journey(admin, full(vip), name="Live")
    with pytest.raises(ValidationError, match="Only a draft"):
        services.journey_test_start(journey=published, actor=admin, person_id=nora.pk)


def test_an_organiser_cannot_test_with_someone_outside_their_area(
    organiser, nora, sid, from_addresses, smtp_server
):
    steps = [{"key": "call", "type": "human", "config": {"note": "Phone them"}}]
    journey = make_journey(organiser, steps, publish=False)
    with pytest.raises(ValidationError, match="Choose a person you can reach"):
        services.journey_test_start(journey=journey, actor=organiser, person_id=sid.pk)
    assert not TestRun.objects.exists()
    journey.refresh_from_db()
    assert journey.status == Journey.Status.DRAFT
    run = services.journey_test_start(journey=journey, actor=organiser, person_id=nora.pk)
    assert run.send_to == "north@example.org"


def test_an_email_the_server_refuses_is_logged_and_the_run_goes_on(vip, admin, nora, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    journey = make_journey(admin, head(full(vip), 3), publish=False)
    run = services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    testruns.advance(run_id=run.pk)
    run.refresh_from_db()
    assert log_of(run) == [
        ("hello", "failed"),
        ("tag", "would"),
        ("list", "would"),
        ("list", "completed"),
    ]
    assert TestRunEntry.objects.get(run=run, step_key="hello").detail


def test_an_unsubscribed_person_still_gives_a_test_copy_saying_what_would_happen(
    vip, admin, north_person, smtp_server
):
    journey = make_journey(admin, head(full(vip), 1), publish=False)
    run = services.journey_test_start(journey=journey, actor=admin, person_id=north_person.pk)
    testruns.advance(run_id=run.pk)
    smtp_server.wait_for(1)
    detail = TestRunEntry.objects.get(run=run, outcome="sent").detail
    assert detail.startswith("Sent to admin@example.org (for real, skipped: email status is")


def test_test_runs_are_exported_and_erased_with_the_person(vip, admin, nora, smtp_server):
    from clarion.journeys.privacy import erase, export

    journey = make_journey(admin, head(full(vip), 2), publish=False)
    run = services.journey_test_start(journey=journey, actor=admin, person_id=nora.pk)
    testruns.advance(run_id=run.pk)
    data = export(nora)["test_runs"]
    assert [e["step"] for e in data[0]["log"]] == ["hello", "tag", "tag"]
    erase(nora)
    assert not TestRun.objects.exists() and not TestRunEntry.objects.exists()
