"""The public list of open Q&A sessions (``/qa/``) and the home page's Q&A section."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from clarion.core.home import HomeSection, home_section_register

from .models import Session

LISTED = 100


def open_session_rows(limit: int = LISTED) -> list[dict]:
    """Sessions open to questions now (open, not before ``opens_at``, not closed)."""
    now = timezone.now()
    sessions = (
        Session.objects.filter(status=Session.Status.OPEN)
        .filter(Q(opens_at__isnull=True) | Q(opens_at__lte=now))
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .order_by("live_at", "-created_at", "pk")[:limit]
    )
    return [
        {
            "title": s.title,
            "url": reverse("qa:session", kwargs={"slug": s.slug}),
            "summary": s.description[:200],
            "meta": _("Live %(when)s")
            % {"when": formats.date_format(timezone.localtime(s.live_at), "D j M, H:i")}
            if s.live_at
            else _("Questions open"),
        }
        for s in sessions
    ]


@require_safe
def session_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/public_index.html",
        {
            "title": _("Live Q&A"),
            "intro": _(
                "Ask a question ahead of a live session, and vote for the ones you want answered."
            ),
            "rows": open_session_rows(),
            "empty": _("No Q&A session is taking questions right now."),
        },
    )


def register() -> None:
    home_section_register(
        HomeSection(
            key="qa",
            title=_("Ask a question"),
            items=lambda: open_session_rows(3),
            more_url="qa:index",
            more_label=_("All Q&A sessions"),
            order=30,
        )
    )
