"""The funnel report in headless Chromium, as a North organiser: the chart and tables
are there, axe-core finds no serious violations and nothing is wider than a phone, a
bad date gets its error, and the CSV downloads. Set CLARION_SCREENSHOTS=DIR to keep
screenshots."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD

from . import funnel_scene as scene
from .funnel_scene import END, NORTH_COUNTS, START

AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"][:3]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _check(page, url: str, name: str) -> None:
    shots = os.environ.get("CLARION_SCREENSHOTS")
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.goto(url)
        if shots:
            page.screenshot(path=f"{shots}/{name}-{label}.png", full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= size["width"], f"{name} is {wide}px wide on a {label}"
        assert _axe_violations(page) == [], f"{name} on a {label}"


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
    _check(page, page.url, "funnel")

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
    _check(page, page.url, "funnel-compare")
    page.locator("#id_end").fill("2025-01-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "The end date must be on or after the start date." in page.content()
    assert page.locator("svg.funnel-chart").count() == 0
    _check(page, page.url, "funnel-errors")
    context.close()
