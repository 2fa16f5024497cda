"""The staff settings page, the person page panel and the organiser dashboard lists."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clarion.core.models import AuditEntry
from clarion.core.testing import factories
from clarion.engagement import services
from clarion.engagement.categories import CATEGORIES
from clarion.engagement.models import EngagementScore, EngagementSettings

URL = "/staff/engagement/"


def _post(settings: EngagementSettings, **changes) -> dict:
    data = {"half_life_days": settings.half_life_days}
    for c in CATEGORIES:
        data[f"w_{c.key}"] = settings.weights[c.key]
    for i, (name, threshold) in enumerate(settings.levels):
        data[f"level_{i}_name"] = name
        data[f"level_{i}_threshold"] = threshold
    data.update(changes)
    return data


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_admin_changes_points_and_it_is_audited(admin, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    row = services.settings_get(fresh=True)
    assert reverse("engagement:settings") == URL
    client = _client(admin)
    page = client.get(URL)
    assert page.status_code == 200
    assert "Took action on a page" in page.content.decode()
    response = client.post(URL, _post(row, w_attend=20, level_4_name="Champion"))
    assert response.status_code == 302
    row = services.settings_get(fresh=True)
    assert row.weights["attend"] == 20
    assert row.levels[4] == ["Champion", 250]
    entry = AuditEntry.objects.get(object_type="engagement_settings")
    assert entry.actor == admin and entry.detail["after"]["weights"]["attend"] == 20


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"w_action": -1}, "greater than or equal to 0"),
        ({"w_action": "many"}, "Enter a whole number"),
        ({"half_life_days": 0}, "greater than or equal to 1"),
        ({"half_life_days": ""}, "This field is required"),
        ({"level_0_threshold": 5}, "The first level starts at 0 points"),
        ({"level_2_threshold": 5}, "must start above the one before it"),
        ({"level_1_name": "Supporter"}, "Each level needs its own name"),
        ({"level_3_name": ""}, "Give this level a name"),
        (
            {f"level_{i}_{f}": "" for i in range(5) for f in ("name", "threshold")},
            "Keep at least one level",
        ),
    ],
)
def test_bad_settings_are_form_errors(admin, changes, message):
    row = services.settings_get(fresh=True)
    response = _client(admin).post(URL, _post(row, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert services.settings_get(fresh=True).weights == row.weights
    assert not AuditEntry.objects.filter(object_type="engagement_settings").exists()


@pytest.mark.django_db
def test_only_admins_reach_the_settings(organiser, analyst):
    for user in (organiser, analyst):
        assert _client(user).get(URL).status_code == 403
        assert _client(user).post(URL, {}).status_code == 403


@pytest.mark.django_db
def test_person_page_shows_score_level_and_breakdown(entry, admin, north_person):
    EngagementScore.objects.all().delete()
    entry(north_person, "event", {"event": 1})  # hosted: 30
    entry(north_person, "action", {"status": "confirmed"})  # 3
    body = _client(admin).get(reverse("people:detail", args=[north_person.pk])).content.decode()
    assert 'data-stat="engagement-score">33<' in body
    assert "data-engagement-level>activist<" in body
    assert 'data-category="host"' in body and 'data-category="action"' in body
    assert body.index('data-category="host"') < body.index('data-category="action"')


@pytest.mark.django_db
def test_person_page_without_points_says_so(organiser, north_person):
    EngagementScore.objects.all().delete()
    body = _client(organiser).get(reverse("people:detail", args=[north_person.pk])).content
    assert b"No engagement points yet." in body
    assert b"Engagement settings" not in body  # only admins are offered the settings


@pytest.mark.django_db
def test_dashboard_lists_rising_and_cooling_in_the_organisers_own_area(
    entry, areas, organiser, south_organiser
):
    north_riser = factories.person(first_name="Rita", last_name="Riser", postcode="LS1 4AP")
    north_quiet = factories.person(first_name="Quentin", last_name="Quiet", postcode="LS2 7EY")
    south_riser = factories.person(first_name="Sol", last_name="Southriser", postcode="BS5 6XX")
    EngagementScore.objects.all().delete()
    entry(north_riser, "event", {"event": 1, "rsvp": 1, "attendance": "attended"}, days=1)
    entry(north_quiet, "event", {"event": 2}, days=60)  # hosted, then nothing since
    entry(south_riser, "event", {"event": 3, "rsvp": 2, "attendance": "attended"}, days=2)
    cache.clear()
    north = _client(organiser).get(reverse("reports:dashboard")).content.decode()
    rising = north[north.index('data-engagement-list="rising"') :]
    rising = rising[: rising.index("</section>")]
    cooling = north[north.index('data-engagement-list="cooling"') :]
    cooling = cooling[: cooling.index("</section>")]
    assert f'data-person="{north_riser.pk}"' in rising
    assert f'data-person="{north_quiet.pk}"' in cooling
    assert f'data-person="{north_quiet.pk}"' not in rising
    assert "Southriser" not in north
    south = _client(south_organiser).get(reverse("reports:dashboard")).content.decode()
    assert "Southriser" in south and "Riser" not in south.replace("Southriser", "")
    assert "Quiet" not in south


@pytest.mark.django_db
def test_recompute_command_rebuilds_scores(entry, north_person, capsys):
    from django.core.management import call_command

    EngagementScore.objects.all().delete()
    entry(north_person, "question", {"session": "s"}, days=3, fold=False)
    assert not EngagementScore.objects.filter(person=north_person).exists()
    call_command("engagement_recompute")
    row = EngagementScore.objects.get(person=north_person)
    assert row.question == pytest.approx(2 * 2 ** (-3 / 120), rel=1e-4)  # 3 days of decay
    assert row.last_at < timezone.now() - datetime.timedelta(days=2)
    assert "Scored 1 people" in capsys.readouterr().out
