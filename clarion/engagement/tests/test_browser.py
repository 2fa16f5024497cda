"""Headless Chromium: the engagement settings page (with an error, then saved) and the
person page's engagement panel, each checked with axe-core."""

from __future__ import annotations

import pytest

from clarion.core.testing.browser import AXE, axe_violations, login
from clarion.core.testing.factories import PASSWORD
from clarion.engagement.models import EngagementSettings


@pytest.mark.browser
def test_settings_page_and_person_panel(browser, live_server, admin, north_person, entry):
    assert AXE.exists(), "run `npm ci` at the repository root to install axe-core"
    entry(north_person, "event", {"event": 1})  # hosted an event: 30 points
    entry(north_person, "action", {"status": "confirmed"})
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe itself
    page = context.new_page()
    page.set_default_timeout(10_000)
    login(page, live_server.url, admin.email, PASSWORD)

    page.goto(f"{live_server.url}/staff/engagement/")
    assert axe_violations(page) == []
    page.get_by_label("Came to an event").fill("-5")
    page.get_by_label("Level 2 from (points)").fill("0")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Please correct the errors below.").wait_for()
    assert "Ensure this value is greater than or equal to 0." in page.content()
    assert axe_violations(page) == []
    assert EngagementSettings.objects.get(pk=1).weights["attend"] == 15

    page.get_by_label("Came to an event").fill("20")
    page.get_by_label("Level 2 from (points)").fill("12")
    page.get_by_label("Level 5 name").fill("Champion")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Scores are being recalculated").wait_for()
    row = EngagementSettings.objects.get(pk=1)
    assert row.weights["attend"] == 20 and row.levels[1] == ["activist", 12]
    assert row.levels[4] == ["Champion", 250]

    page.goto(f"{live_server.url}/staff/people/{north_person.pk}/")
    panel = page.locator("#engagement")
    assert panel.locator("[data-stat=engagement-score]").inner_text() == "33"
    assert panel.locator("[data-engagement-level]").inner_text() == "activist"
    assert panel.get_by_text("Hosted an event").count() == 1
    assert axe_violations(page) == []
    context.close()
