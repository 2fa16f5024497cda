from __future__ import annotations

import pytest
from django.core.cache import cache

from clarion.actions.models import ActionPage
from clarion.core.testing.smtp import smtp_server  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _fresh_cache(db):
    # Counts and rate limits live in the cache, public pages in a per-process copy;
    # each test starts from nothing.
    from clarion.actions.selectors import public_page_forget

    cache.clear()
    public_page_forget()
    yield
    cache.clear()
    public_page_forget()


def make_page(**fields) -> ActionPage:
    from clarion.actions.services import page_save

    fields.setdefault("kind", ActionPage.Kind.PETITION)
    fields.setdefault("slug", "save-the-library")
    fields.setdefault("title", "Save the library")
    fields.setdefault("status", ActionPage.Status.LIVE)
    fields.setdefault("body", "Our **library** is under threat.")
    fields.setdefault("goal", 100)
    return page_save(page=ActionPage(**fields))


@pytest.fixture
def petition(db):
    return make_page()
