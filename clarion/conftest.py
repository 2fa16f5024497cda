"""Shared fixtures: an area tree and the personas every app's tests use.

- ``admin``: a national admin (sees everyone)
- ``organiser``: organiser of the North (sees only people in the North subtree)
- ``south_organiser``: organiser of the South
- ``analyst``: national read-only analyst
- ``north_person`` / ``south_person``: supporters in each region
"""

from __future__ import annotations

import pytest

from clarion.core.models import User
from clarion.core.testing import factories

DB_FIXTURES = ("db", "transactional_db", "live_server", "django_db_reset_sequences")


@pytest.fixture(autouse=True)
def _fresh_cache(request):
    """Rate-limit counters and cached counts must not leak from one test into the next.

    The cache lives in the test database (DatabaseCache) and outside any one test's
    transaction, so it is emptied before every test that uses the database.
    """
    uses_db = request.node.get_closest_marker("django_db") or any(
        name in request.fixturenames for name in DB_FIXTURES
    )
    if uses_db:
        from django.core.cache import cache

        request.getfixturevalue("django_db_setup")
        with request.getfixturevalue("django_db_blocker").unblock():
            cache.clear()


@pytest.fixture(autouse=True)
def _intake_inline(request, monkeypatch):
    """A public action form's intake row is processed by the request itself in tests,
    so a test can post the form and look at the person. Tests of the real, queued
    path ask for the ``intake_async`` fixture instead."""
    from clarion.actions import services

    monkeypatch.setattr(services, "INTAKE_INLINE", "intake_async" not in request.fixturenames)


@pytest.fixture
def intake_async():
    """Leave public action forms' intake rows to the workers, as production does."""


@pytest.fixture
def areas(db):
    return factories.area_tree()


@pytest.fixture
def admin(areas):
    return factories.staff_user(role=User.Role.ADMIN, email="admin@example.org")


@pytest.fixture
def organiser(areas):
    return factories.staff_user(
        role=User.Role.ORGANISER, area=areas.north, email="north@example.org"
    )


@pytest.fixture
def south_organiser(areas):
    return factories.staff_user(
        role=User.Role.ORGANISER, area=areas.south, email="south@example.org"
    )


@pytest.fixture
def analyst(areas):
    return factories.staff_user(role=User.Role.ANALYST, email="analyst@example.org")


@pytest.fixture
def north_person(areas):
    return factories.person(
        postcode=areas.postcodes["north"],
        first_name="Nora",
        last_name="North",
        email="nora@example.net",
    )


@pytest.fixture
def south_person(areas):
    return factories.person(
        postcode=areas.postcodes["south"],
        first_name="Sid",
        last_name="South",
        email="sid@example.net",
    )


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def organiser_client(client, organiser):
    client.force_login(organiser)
    return client


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (fails loudly if it is not installed)."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    from clarion.core.testing.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
        # While Playwright's event loop runs in this thread, Django (asgiref's Local) keeps
        # this thread's database connections in a per-context store that is out of reach
        # once the loop has stopped: left open, they keep the test database from being
        # dropped. Close them before the loop stops.
        connections.close_all()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
