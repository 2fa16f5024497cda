import pytest

from clarion.core.testing.browser import login
from clarion.core.testing.factories import PASSWORD


@pytest.mark.browser
def test_staff_can_log_in_in_a_real_browser(page, live_server, admin, north_person):
    login(page, live_server.url, admin.email, PASSWORD)
    page.get_by_role("link", name="People", exact=True).first.click()
    page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("/staff/people")
    assert "Nora North" in page.content()
