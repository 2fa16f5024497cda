"""The staff flow in a real browser: find a person, open them, tag them."""

from __future__ import annotations

import pytest

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD


@pytest.mark.browser
def test_admin_finds_a_person_and_tags_them(page, live_server, admin, north_person, south_person):
    login(page, live_server.url, admin.email, PASSWORD)
    page.goto(f"{live_server.url}/staff/people/")
    page.get_by_label("Search").fill("Nora North")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    results = page.locator("table.table tbody")
    assert results.get_by_role("link", name="Nora North").count() == 1
    assert "Sid South" not in results.inner_text()

    results.get_by_role("link", name="Nora North").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Nora North").is_visible()

    page.get_by_label("Add a tag").fill("Street team")
    page.get_by_role("button", name="Add tag").click()
    page.wait_for_load_state()
    assert page.locator("#person-tags").get_by_text("Street team").is_visible()
    assert page.locator("#timeline").get_by_text("Tagged Street team").is_visible()
