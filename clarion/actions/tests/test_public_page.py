"""The per-process copy of public pages (``selectors.public_page``): a signature does
not read its page's row each time, and no change waits longer than the interval."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.urls import reverse

from clarion.actions import selectors
from clarion.actions.models import ActionPage

from .conftest import make_page
from .test_submit import sign


class Clock:
    def __init__(self, monkeypatch):
        self.now = 1000.0
        monkeypatch.setattr(selectors.time, "monotonic", lambda: self.now)


def _elsewhere(page: ActionPage, **fields) -> None:
    """A change another web process made: the row changes, this process hears nothing."""
    ActionPage.objects.filter(pk=page.pk).update(**fields)


def test_a_change_made_elsewhere_is_seen_within_the_interval(client, areas, monkeypatch):
    clock = Clock(monkeypatch)
    page = make_page()
    assert selectors.public_page(page.slug).title == "Save the library"
    _elsewhere(page, title="Keep the library", status=ActionPage.Status.CLOSED)
    clock.now += 1.0
    assert selectors.public_page(page.slug).title == "Save the library"  # the copy
    clock.now += 1.1  # past the 2 s interval
    fresh = selectors.public_page(page.slug)
    assert fresh.title == "Keep the library" and not fresh.is_open()
    # Signing now is refused as on any closed page, and nothing is written.
    response = sign(client, page, email="late@example.net")
    assert response.status_code == 400 and "This page is closed" in response.content.decode()
    assert not page.submissions.exists()


def test_a_page_saved_here_is_seen_at_once(client, areas, monkeypatch):
    Clock(monkeypatch)  # time stands still: only the save can refresh the copy
    page = make_page()
    assert sign(client, page, email="first@example.net").status_code == 302
    page.status = ActionPage.Status.CLOSED
    page.save()
    html = client.get(reverse("actions:page", kwargs={"slug": page.slug})).content.decode()
    assert "This page is closed" in html
    page.status = ActionPage.Status.DRAFT
    page.save()
    with pytest.raises(Http404):
        selectors.public_page(page.slug)


def test_a_page_turned_draft_elsewhere_is_gone_after_the_interval(areas, monkeypatch):
    clock = Clock(monkeypatch)
    page = make_page()
    selectors.public_page(page.slug)
    _elsewhere(page, status=ActionPage.Status.DRAFT)
    clock.now += 2.5
    with pytest.raises(Http404):
        selectors.public_page(page.slug)
    # A draft is not kept: turning it live again elsewhere shows at the next request.
    _elsewhere(page, status=ActionPage.Status.LIVE)
    assert selectors.public_page(page.slug).pk == page.pk


def test_each_caller_gets_its_own_copy(areas, monkeypatch):
    Clock(monkeypatch)
    page = make_page()
    first = selectors.public_page(page.slug)
    first.title = "changed by one request"
    first.goal = 1
    second = selectors.public_page(page.slug)
    assert second is not first
    assert second.title == "Save the library" and second.goal == 100


def test_zero_seconds_reads_the_row_every_time(areas, monkeypatch, settings):
    Clock(monkeypatch)
    settings.CLARION_PUBLIC_PAGE_SECONDS = 0
    page = make_page()
    selectors.public_page(page.slug)
    _elsewhere(page, title="Read again")
    assert selectors.public_page(page.slug).title == "Read again"


def test_a_deleted_page_is_gone_at_once(areas, monkeypatch):
    Clock(monkeypatch)
    page = make_page()
    selectors.public_page(page.slug)
    page.delete()
    with pytest.raises(Http404):
        selectors.public_page(page.slug)
