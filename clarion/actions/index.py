"""Public lists of live action pages (``/act/``) and donation pages (``/donate/``),
and the home page's campaigns section."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from clarion.core.home import HomeSection, home_section_register

from .models import ActionPage

LISTED = 100
ON_HOME = 6


def live_pages() -> QuerySet[ActionPage]:
    """Pages open now: live, started, not ended; newest first."""
    now = timezone.now()
    return (
        ActionPage.objects.filter(status=ActionPage.Status.LIVE)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("-created_at", "-pk")
    )


def _rows(pages) -> list[dict]:
    return [
        {
            "title": page.title,
            "url": reverse("actions:page", kwargs={"slug": page.slug}),
            "summary": page.summary,
            "meta": page.get_kind_display(),
        }
        for page in pages
    ]


def campaign_rows(limit: int = ON_HOME) -> list[dict]:
    return _rows(live_pages().exclude(kind=ActionPage.Kind.DONATION)[:limit])


def donation_rows(limit: int = ON_HOME) -> list[dict]:
    return _rows(live_pages().filter(kind=ActionPage.Kind.DONATION)[:limit])


@require_safe
def page_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/public_index.html",
        {
            "title": _("Take action"),
            "intro": _("Campaigns you can join today: sign, pledge, write or sign up."),
            "rows": campaign_rows(LISTED),
            "empty": _("There are no open campaigns right now. Please come back soon."),
        },
    )


@require_safe
def donation_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/public_index.html",
        {
            "title": _("Donate"),
            "intro": _("Every gift, large or small, keeps the campaign going."),
            "rows": donation_rows(LISTED),
            "empty": _("There is no open appeal right now. Please come back soon."),
        },
    )


def register() -> None:
    home_section_register(
        HomeSection(
            key="campaigns",
            title=_("Campaigns"),
            items=campaign_rows,
            more_url="actions:index",
            more_label=_("All campaigns"),
            empty=_("No campaigns are open right now."),
            order=10,
        )
    )
    home_section_register(
        HomeSection(
            key="donate",
            title=_("Support the campaign"),
            items=lambda: donation_rows(2),
            more_url="donations:index",
            more_label=_("All ways to give"),
            order=40,
        )
    )
