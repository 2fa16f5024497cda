"""The funnel report in headless Chromium, as a North organiser: the chart and tables
are there, axe-core finds no serious violations and nothing is wider than a phone, a
bad date gets its error, and the CSV downloads. Set CLARION_SCREENSHOTS=DIR to keep
screenshots."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from clarion.core.testing.browser import AXE, DESKTOP, check_url, login
from clarion.core.testing.factories import PASSWORD

from . import funnel_scene as scene
from .funnel_scene import END, NORTH_COUNTS, START


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_organiser_reads_the_funnel_with_its_chart_and_csv(browser, live_server, areas, organiser):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    scene.build(areas)
    context = browser.new_context(bypass_csp=True, accept_downloads=True)
    page = context.new_page()
    login(page, live_server.url, organiser.email, PASSWORD)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Online to offline funnel").click()
    page.locator("#id_start").fill(START.isoformat())
    page.locator("#id_end").fill(END.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    chart = page.get_by_role("img", name="People at each stage of the funnel")
    assert chart.is_visible()
    assert chart.bounding_box()["width"] > 300
    row = page.locator('section.funnel-panel tr[data-stage="attended"] [data-stat="count"]')
    assert row.inner_text() == str(NORTH_COUNTS["attended"])
    check_url(page, page.url, "funnel")

    page.set_viewport_size(DESKTOP)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    rows = {tuple(r[:4]): r[4] for r in csv.reader(io.StringIO(text))}
    assert rows[("funnel", "The North", "hosted", "people")] == str(NORTH_COUNTS["hosted"])

    # Two areas side by side, then a date that does not exist.
    page.locator("#id_area").select_option(label="City Ward")
    page.locator("#id_compare").select_option(label="The North")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert page.locator("section.funnel-panel").count() == 2
    check_url(page, page.url, "funnel-compare")
    page.locator("#id_end").fill("2025-01-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "The end date must be on or after the start date." in page.content()
    assert page.locator("svg.funnel-chart").count() == 0
    check_url(page, page.url, "funnel-errors")
    context.close()
