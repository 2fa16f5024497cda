from __future__ import annotations

import itertools

import pytest
from django.core.cache import cache

from clarion.core.testing.smtp import smtp_server  # noqa: F401  (fixture)
from clarion.qa.models import Session

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache(db):
    # Rate limits and the live feed live in the cache; each test starts from nothing.
    cache.clear()
    yield
    cache.clear()


def make_session(**fields) -> Session:
    fields.setdefault("slug", f"leader-live-{next(_n)}")
    fields.setdefault("title", "Ask the Leader")
    fields.setdefault("host", "Alex Leader")
    fields.setdefault("status", Session.Status.OPEN)
    return Session.objects.create(**fields)


@pytest.fixture
def session(db):
    return make_session(
        join_url="https://example.org/join", donate_url="https://example.org/donate"
    )


def ask(
    session,
    *,
    name="Nora North",
    email="nora@example.net",
    text="What will you do about bus fares?",
    ip="10.0.0.1",
    **extra,
):
    from clarion.qa.services import question_ask

    return question_ask(session=session, name=name, email=email, text=text, ip=ip, **extra).question
