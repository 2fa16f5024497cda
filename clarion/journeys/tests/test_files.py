"""Journeys as JSON files and the shipped templates."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clarion.journeys import services
from clarion.journeys.library import TEMPLATES
from clarion.journeys.models import Journey, Step

from .conftest import email_config, make_journey

pytestmark = pytest.mark.django_db

STEPS = [
    {"key": "hello", "type": "email", "config": email_config(), "next": "check"},
    {
        "key": "check",
        "type": "decision",
        "config": {
            "definition": {"op": "all", "conditions": [{"type": "has_email", "present": "yes"}]}
        },
        "yes": "tag",
        "no": "end",
    },
    {"key": "tag", "type": "tag_add", "config": {"tag": "reached"}, "next": "end"},
    {"key": "end", "type": "end"},
]


def test_an_exported_journey_imports_as_the_same_draft(admin, tmp_path, capsys):
    journey = make_journey(admin, STEPS, name="Round trip", trigger_config={"tag": "x"})
    call_command("journey_export", str(journey.pk))
    exported = json.loads(capsys.readouterr().out)
    path = tmp_path / "journey.json"
    path.write_text(json.dumps(exported))

    call_command("journey_import", str(path), "--as", admin.email)

    copy = Journey.objects.exclude(pk=journey.pk).get()
    assert (copy.name, copy.status, copy.trigger_config) == ("Round trip", "draft", {"tag": "x"})
    assert services.journey_export(copy) == exported
    check = Step.objects.get(journey=copy, key="check")
    assert (check.yes.key, check.no.key) == ("tag", "end")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        ('{"format": "other"}', "not a Clarion journey file"),
        (
            json.dumps(
                {
                    "format": "clarion-journey/1",
                    "name": "X",
                    "trigger": {"type": "tag_added", "config": {"tag": "x"}},
                    "steps": [{"key": "w", "type": "wait", "config": {"weeks": 2}}],
                }
            ),
            "Step 1 (Wait): Unknown settings: weeks.",
        ),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message(admin, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError) as exc:
        call_command("journey_import", str(path), "--as", admin.email)
    assert message in str(exc.value)
    assert not Journey.objects.exists()


def test_exporting_a_missing_journey_is_an_error():
    with pytest.raises(CommandError, match="no journey 999"):
        call_command("journey_export", "999")


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_makes_a_valid_draft(admin, key):
    journey = services.journey_from_template(
        key=key, actor=admin, from_name="Clarion HQ", from_email="hq@clarion.example.org"
    )
    assert journey.status == "draft"
    assert Step.objects.filter(journey=journey).count() >= 2


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_publishes_with_its_emails_in_staffs_categories(admin, from_addresses, key):
    from clarion.mailings.models import EmailCategory

    journey = services.journey_from_template(
        key=key, actor=admin, from_name="Clarion HQ", from_email="hq@clarion.example.org"
    )
    journey = services.journey_set_status(journey=journey, actor=admin, move="publish")
    assert journey.status == "published"
    keys = {"", *EmailCategory.objects.values_list("key", flat=True)}
    for step in Step.objects.filter(journey=journey, type="email"):
        assert step.mailing is not None
        assert step.mailing.category == step.config["category"] in keys


def test_a_template_category_staff_removed_becomes_general_mail(admin):
    from clarion.mailings.models import EmailCategory

    EmailCategory.objects.filter(key="events").delete()
    journey = services.journey_from_template(
        key="rsvp_follow_up", actor=admin, from_name="Clarion HQ", from_email="hq@x.example"
    )
    categories = {s.config["category"] for s in Step.objects.filter(journey=journey, type="email")}
    assert categories == {""}


def test_the_new_templates_use_the_membership_and_rsvp_triggers(admin):
    made = {
        key: services.journey_from_template(
            key=key, actor=admin, from_name="Clarion HQ", from_email="hq@x.example"
        )
        for key in ("rsvp_follow_up", "lapsing_renew", "lapsed_win_back")
    }
    assert made["rsvp_follow_up"].trigger_type == "rsvp"
    assert (made["lapsing_renew"].trigger_type, made["lapsing_renew"].trigger_config) == (
        "renews_soon",
        {"days": 30},
    )
    assert made["lapsed_win_back"].trigger_type == "membership_lapsed"
    bodies = " ".join(
        s.config["body"] for s in Step.objects.filter(journey__in=made.values(), type="email")
    )
    assert "/members/membership/" in bodies and "/members/join/" in bodies
