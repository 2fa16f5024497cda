"""The staff navigation: grouped by job, the current section marked, the settings an
organiser may not use left out, and the user's area shown."""

from __future__ import annotations

import re

from django.urls import reverse


def _nav(html: str) -> str:
    return html[html.index('<nav class="site-nav"') : html.index("</nav>")]


def _current(html: str) -> list[str]:
    return re.findall(r'aria-current="page">([^<]+)<', _nav(html))


def test_the_bar_groups_sections_by_job_and_keeps_settings_in_a_menu(admin_client):
    nav = _nav(admin_client.get(reverse("people:list")).content.decode())
    groups = re.findall(r'class="nav-group__label">([^<]+)<', nav)
    assert groups == ["Supporters", "Campaigning", "Money and reports"]
    settings = nav[nav.index('<details class="nav-more">') :]
    for label in (
        "API keys",
        "Webhooks",
        "Audit log",
        "From addresses",
        "Staff",
        "Retention",
        "Engagement scoring",
    ):
        assert f">{label}</a>" in settings
    for label in (
        "People",
        "Segments",
        "Mailings",
        "Events",
        "Action pages",
        "Q&amp;A",
        "Journeys",
    ):
        assert f">{label}</a>" in nav[: nav.index('<details class="nav-more">')]


def test_the_current_section_is_marked_and_only_that_one(admin_client):
    assert _current(admin_client.get(reverse("people:list")).content.decode()) == ["People"]
    segments = admin_client.get(reverse("people:segment_list")).content.decode()
    assert _current(segments) == ["Segments"]
    audit = admin_client.get(reverse("core:audit_log")).content.decode()
    assert _current(audit) == ["Audit log"]
    assert 'class="nav-more--current"' in audit
    mailings = admin_client.get(reverse("mailings_staff:list")).content.decode()
    assert _current(mailings) == ["Mailings"] and "nav-more--current" not in mailings


def test_an_organiser_sees_their_area_and_not_the_admin_settings(organiser_client):
    html = organiser_client.get(reverse("events_staff:list")).content.decode()
    nav = _nav(html)
    assert _current(html) == ["Events"]
    assert ">API keys</a>" in nav
    for label in ("Webhooks", "Audit log", "Staff", "Retention", "Outbox", "Engagement scoring"):
        assert f">{label}</a>" not in nav
    assert "· The North" in html[html.index('class="site-user"') :]
