"""The home page's upcoming-events section (see ``clarion.core.home``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from clarion.core.home import HomeSection, home_section_register

from .selectors import upcoming_public


def upcoming_rows(limit: int = 6) -> list[dict]:
    rows = []
    for event in upcoming_public(limit=limit):
        when = formats.date_format(timezone.localtime(event.starts_at), "D j M, H:i")
        place = event.area.name if event.area else ""
        rows.append(
            {
                "title": event.title,
                "url": reverse("events:detail", kwargs={"pk": event.pk}),
                "summary": event.venue,
                "meta": " · ".join(p for p in (str(event.get_kind_display()), when, place) if p),
            }
        )
    return rows


def register() -> None:
    home_section_register(
        HomeSection(
            key="events",
            title=_("Upcoming events"),
            items=upcoming_rows,
            more_url="events:find",
            more_label=_("Find an event near you"),
            empty=_("No events are coming up yet."),
            order=20,
        )
    )
