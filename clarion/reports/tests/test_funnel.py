"""The online→offline funnel report: stage counts, conversions, medians, cohorts, list
growth, two areas side by side, the SVG chart, the CSV, scope and bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse

from clarion.core.models import User
from clarion.core.testing import factories
from clarion.people.models import Person
from clarion.reports.funnel import Period, funnel_figures, list_growth

from . import funnel_scene as scene
from .funnel_scene import END, NORTH_COUNTS, NORTH_FROM_PREVIOUS, NORTH_MEDIANS, SOUTH_COUNTS, START

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.fixture
def people(areas):
    return scene.build(areas)


def _stage_cells(body: str, panel: int = 0) -> dict[str, dict[str, str]]:
    """The figures of the ``panel``-th area's stage table, by stage and column."""
    sections = re.findall(r'<section class="funnel-panel".*?</section>', body, re.S)
    rows = re.findall(r'<tr data-stage="(\w+)">(.*?)</tr>', sections[panel], re.S)
    return {
        stage: dict(re.findall(r'data-stat="([\w-]+)">([^<]*)<', cells)) for stage, cells in rows
    }


def _figures(body: str, panel: int = 0) -> dict[str, int]:
    return {stage: int(cells["count"]) for stage, cells in _stage_cells(body, panel).items()}


def test_stage_counts_follow_the_rules_for_skippers_cancellers_no_shows_and_hosts(
    organiser, people
):
    funnel = funnel_figures(organiser, organiser.scope_area, Period(START, END))
    assert {s.key: s.count for s in funnel.stages} == NORTH_COUNTS
    assert {s.key: s.from_previous for s in funnel.stages[1:]} == NORTH_FROM_PREVIOUS
    conversions = {s.key: s.conversion for s in funnel.stages[1:]}
    assert conversions == {"rsvp": 50.0, "attended": 66.7, "returned": 25.0, "hosted": 100.0}
    assert {s.key: s.median_days for s in funnel.stages[1:]} == NORTH_MEDIANS
    assert funnel.stages[0].conversion is None and funnel.stages[0].median_days is None


def test_cohorts_group_people_by_month_of_first_action(organiser, people):
    funnel = funnel_figures(organiser, organiser.scope_area, Period(START, END))
    cohorts = {c.month.month: c.counts for c in funnel.cohorts}
    assert list(cohorts) == [1, 2, 3, 4, 5, 6]
    assert cohorts[1] == [1, 0, 0, 0, 0]  # bob (jo acted a minute before the period)
    assert cohorts[2] == [2, 2, 2, 1, 1]  # ann and fay
    assert cohorts[3] == [2, 1, 0, 0, 0]  # cat (cancelled) and dan (no-show)
    assert cohorts[4] == cohorts[5] == [0, 0, 0, 0, 0]
    assert cohorts[6] == [1, 0, 0, 0, 0]  # kit, at 23:30 London time on 30 June
    assert sum(c[0] for c in cohorts.values()) == NORTH_COUNTS["action"]


def test_a_narrower_period_drops_what_falls_outside_it(organiser, people):
    march = funnel_figures(
        organiser, organiser.scope_area, Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    )
    # Actions: cat, dan. RSVPs: ann's for April, dan's, fay's walk-in. Attended 1 March:
    # ann, fay, hal. Nobody came back or hosted in March (ivy's event was cancelled).
    assert {s.key: s.count for s in march.stages} == {
        "action": 2,
        "rsvp": 3,
        "attended": 3,
        "returned": 0,
        "hosted": 0,
    }
    assert march.stages[3].conversion == 0.0 and march.stages[4].conversion is None


def test_page_shows_the_organisers_area_only(client, organiser, people):
    client.force_login(organiser)
    response = client.get(reverse("reports:funnel"), PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert _figures(body) == NORTH_COUNTS
    assert len(re.findall(r'<section class="funnel-panel"', body)) == 1
    cells = _stage_cells(body)
    assert cells["rsvp"]["conversion"] == "50.0%"
    assert cells["hosted"]["median-days"] == "39"


def test_south_organiser_sees_south_figures(client, south_organiser, people):
    client.force_login(south_organiser)
    body = client.get(reverse("reports:funnel"), PERIOD).content.decode()
    assert _figures(body) == SOUTH_COUNTS


def test_admin_compares_two_areas_side_by_side(client, admin, areas, people):
    client.force_login(admin)
    body = client.get(
        reverse("reports:funnel"), {**PERIOD, "area": areas.north.pk, "compare": areas.south.pk}
    ).content.decode()
    assert _figures(body, 0) == NORTH_COUNTS
    assert _figures(body, 1) == SOUTH_COUNTS
    chart = re.search(r"<svg.*?</svg>", body, re.S).group(0)
    assert chart.count('<g data-stage="') == 5
    assert chart.count("<rect") == 2 * 5 + 2  # two bars a stage and the legend's keys
    assert "The North" in chart and "The South" in chart


def test_admin_sees_the_whole_country_by_default(client, admin, people):
    client.force_login(admin)
    body = client.get(reverse("reports:funnel"), PERIOD).content.decode()
    assert _figures(body) == {k: NORTH_COUNTS[k] + SOUTH_COUNTS[k] for k in NORTH_COUNTS}


def test_organiser_compares_two_areas_inside_their_scope(client, organiser, areas, people):
    client.force_login(organiser)
    body = client.get(
        reverse("reports:funnel"),
        {**PERIOD, "area": areas.leeds_central.pk, "compare": areas.leeds.pk},
    ).content.decode()
    assert _figures(body, 0) == NORTH_COUNTS == _figures(body, 1)


@pytest.mark.parametrize("param", ["area", "compare"])
def test_an_area_outside_the_scope_is_not_found_and_shows_no_figures(
    client, organiser, areas, people, param
):
    client.force_login(organiser)
    for url in (reverse("reports:funnel"), reverse("reports:funnel_csv")):
        for value in (areas.south.pk, areas.bristol_east.pk, areas.nation.pk, 999999):
            response = client.get(url, {**PERIOD, param: value})
            assert response.status_code == 404, (url, value)
            assert b"The South" not in response.content
            assert b"data-stage" not in response.content


def test_the_south_is_not_leaked_by_a_north_organisers_csv(client, organiser, areas, people):
    client.force_login(organiser)
    rows = list(csv.reader(io.StringIO(client.get(reverse("reports:funnel_csv"), PERIOD).text)))
    assert {row[1] for row in rows[1:]} == {"The North"}


def test_csv_holds_the_same_figures_as_the_page(client, admin, areas, people):
    client.force_login(admin)
    query = {**PERIOD, "area": areas.north.pk, "compare": areas.south.pk}
    response = client.get(reverse("reports:funnel_csv"), query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="funnel-20260101-20260630.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "area", "row", "measure", "value"]
    values = {tuple(row[:4]): row[4] for row in rows[1:]}
    for key, n in NORTH_COUNTS.items():
        assert values[("funnel", "The North", key, "people")] == str(n)
    for key, n in SOUTH_COUNTS.items():
        assert values[("funnel", "The South", key, "people")] == str(n)
    assert values[("funnel", "The North", "attended", "conversion_pct")] == "66.7"
    assert values[("funnel", "The North", "returned", "median_days")] == "31"
    assert values[("cohort", "The North", "2026-02", "returned")] == "1"
    assert values[("cohort", "The North", "2026-06", "action")] == "1"
    assert ("funnel", "The North", "action", "conversion_pct") not in values
    growth = [r for r in rows if r[0] == "growth" and r[1] == "The North" and r[3] == "joined"]
    assert [r[2] for r in growth] == [f"2026-{m:02d}" for m in range(1, 7)]


def test_csv_neutralises_an_area_name_a_spreadsheet_would_run(client, areas, people):
    from clarion.areas.models import Area

    Area.objects.filter(pk=areas.north.pk).update(name='=HYPERLINK("http://x")')
    organiser = factories.staff_user(role=User.Role.ORGANISER, area=areas.north)
    client.force_login(organiser)
    rows = list(csv.reader(io.StringIO(client.get(reverse("reports:funnel_csv"), PERIOD).text)))
    assert {row[1] for row in rows[1:]} == {'\'=HYPERLINK("http://x")'}


def test_svg_chart_is_accessible_and_escapes_area_names(client, areas, people):
    from clarion.areas.models import Area

    Area.objects.filter(pk=areas.north.pk).update(name="North <script>alert(1)</script> & Co")
    organiser = factories.staff_user(role=User.Role.ORGANISER, area=areas.north)
    client.force_login(organiser)
    body = client.get(reverse("reports:funnel"), PERIOD).content.decode()
    chart = re.search(r"<svg.*?</svg>", body, re.S).group(0)
    assert (
        'role="img"' in chart and 'aria-labelledby="funnel-chart-title funnel-chart-desc"' in chart
    )
    assert re.search(r'<title id="funnel-chart-title">[^<]+</title>', chart)
    desc = re.search(r'<desc id="funnel-chart-desc">(.*?)</desc>', chart, re.S).group(1)
    assert "Took an online action 6" in desc and "Hosted an event 2" in desc
    assert "North &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in desc
    assert "<script>alert(1)" not in body
    assert "<script" not in chart
    # The longest bar is the largest figure; the bars' values are printed beside them.
    widths = [float(w) for w in re.findall(r'<rect x="0" y="\d+" width="([\d.]+)"', chart)]
    assert max(widths) == widths[0] and widths[3] < widths[1]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-13-01", "end": "2026-06-30"}, "start", "Enter a valid date."),
        ({"start": "yesterday", "end": "2026-06-30"}, "start", "Enter a valid date."),
        ({"start": "2026-06-30", "end": "2026-01-01"}, "end", "on or after the start date"),
        ({"start": "1066-10-14", "end": "2026-01-01"}, "start", "between 2000 and 2200"),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "end", "at most 60 months"),
        ({"start": "", "end": "2026-01-01"}, "start", "This field is required."),
        ({**PERIOD, "area": "north"}, "area", "Choose an area from the list."),
        ({**PERIOD, "area": "1 OR 1=1"}, "area", "Choose an area from the list."),
        ({**PERIOD, "compare": "-3"}, "compare", "Choose an area from the list."),
        ({**PERIOD, "compare": "9" * 40}, "compare", "Choose an area from the list."),
    ],
)
def test_bad_input_gets_form_errors_not_figures(client, organiser, people, query, field, message):
    client.force_login(organiser)
    for url in (reverse("reports:funnel"), reverse("reports:funnel_csv")):
        response = client.get(url, query)
        assert response.status_code == 400
        body = response.content.decode()
        error = re.search(rf'<p class="error" id="id_{field}_error">([^<]*)</p>', body)
        assert error and message in error.group(1), body[:2000]
        assert "data-stage" not in body
        assert response["Content-Type"].startswith("text/html")


def test_comparing_an_area_with_itself_is_a_form_error(client, organiser, areas, people):
    client.force_login(organiser)
    response = client.get(
        reverse("reports:funnel"), {**PERIOD, "area": areas.leeds.pk, "compare": areas.leeds.pk}
    )
    assert response.status_code == 400
    assert "Choose a different area to compare with." in response.content.decode()


def test_default_period_is_the_last_twelve_months(client, organiser, people):
    client.force_login(organiser)
    body = client.get(reverse("reports:funnel")).content.decode()
    assert len(re.findall(r'<table class="table funnel-cohorts">.*?</table>', body, re.S)) == 1
    months = re.findall(r'<tr data-month="(\d{4}-\d\d)">', body)
    assert len(months) == 2 * 12  # cohorts and list growth


def test_list_growth_counts_joiners_leavers_and_the_running_total(organiser, areas):
    pc = areas.postcodes["north"]

    def person(created, status, changed=None):
        made = factories.person(postcode=pc)
        Person.objects.filter(pk=made.pk).update(
            created_at=created, email_status=status, email_status_changed_at=changed
        )

    person(scene.at(11, 1, 2025), "subscribed")  # before the period
    person(scene.at(11, 2, 2025), "unsubscribed", scene.at(12, 1, 2025))  # left before it
    person(scene.at(1, 10), "subscribed")
    person(scene.at(1, 11), "none")  # never subscribed: not a joiner
    person(scene.at(2, 1), "subscribed")
    person(scene.at(12, 5, 2025), "unsubscribed", scene.at(3, 3))
    person(scene.at(2, 5), "bouncing", scene.at(3, 9))
    person(scene.at(1, 20), "complained", scene.at(4, 1))
    factories.person(postcode=areas.postcodes["south"])  # the South: not counted
    rows = list_growth(organiser, organiser.scope_area, Period(START, dt.date(2026, 4, 30)))
    table = [
        (r.month.month, r.joined, r.unsubscribed, r.bounced, r.net, r.subscribed) for r in rows
    ]
    # Before the period: 3 emailable people joined, 1 left: 2 subscribed on 1 January.
    assert table == [
        (1, 2, 0, 0, 2, 4),
        (2, 2, 0, 0, 2, 6),
        (3, 0, 1, 1, -2, 4),
        (4, 0, 1, 0, -1, 3),
    ]
    assert rows[-1].subscribed == organiser_subscribed_now(organiser)


def organiser_subscribed_now(user) -> int:
    from clarion.people.selectors import people_for

    return people_for(user).filter(email_status="subscribed").count()


def test_reports_home_links_to_the_funnel(client, organiser):
    client.force_login(organiser)
    assert reverse("reports:funnel") in client.get(reverse("reports:home")).content.decode()


def test_funnel_needs_a_login(client):
    response = client.get(reverse("reports:funnel"), PERIOD)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("reports:funnel_csv"), PERIOD).status_code == 302


def test_page_and_csv_share_figures_cached_five_minutes(client, organiser, areas, people):
    from django.core.cache import cache

    client.force_login(organiser)
    assert _figures(client.get(reverse("reports:funnel"), PERIOD).content.decode()) == NORTH_COUNTS
    scene.act(people["eve"], scene.at(4, 2))
    cached = client.get(reverse("reports:funnel"), PERIOD).content.decode()
    assert _figures(cached)["action"] == NORTH_COUNTS["action"]
    assert "Figures are kept for five minutes." in cached
    cache.clear()
    fresh = client.get(reverse("reports:funnel"), PERIOD).content.decode()
    assert _figures(fresh)["action"] == NORTH_COUNTS["action"] + 1
