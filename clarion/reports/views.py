"""The home page (staff: their dashboard counts; everyone else: the public home) and the
organiser dashboard. This app sits on top: it reads across people, areas and events."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe

from clarion.areas.models import Area
from clarion.areas.selectors import areas_visible_to
from clarion.core.home import home_sections
from clarion.core.models import User
from clarion.people.selectors import people_for

from .dashboard import dashboard_area, dashboard_figures, never_attended
from .services import area_segment_get_or_create

DASHBOARD_CACHE_SECONDS = 60
DASHBOARD_PICKER_MAX = 1000
NEVER_ATTENDED_SHOWN = 200
HOME_GROUPS = 24


def _dashboard_counts(user: User) -> dict[str, int]:
    """People counts for ``user``'s scope, cached a minute per scope so a busy team
    reloading the home page does not count millions of rows each time."""
    scope = user.scope_area
    key = f"dashboard:v1:{scope.pk if scope is not None else 'all'}"
    counts = cache.get(key)
    if counts is None:
        people = people_for(user)
        week_ago = timezone.now() - dt.timedelta(days=7)
        counts = {
            "total": people.count(),
            "new_this_week": people.filter(created_at__gte=week_ago).count(),
            "subscribed": people.filter(email_status="subscribed").count(),
        }
        cache.set(key, counts, DASHBOARD_CACHE_SECONDS)
    return counts


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Staff see their dashboard; everyone else the public home page."""
    if not request.user.is_authenticated:
        return public_home(request)
    return render(
        request,
        "reports/home.html",
        {
            "counts": _dashboard_counts(request.user),
            "scope": request.user.scope_area,
            "demo": settings.DEMO,
        },
    )


def public_home(request: HttpRequest) -> HttpResponse:
    """Live campaigns, upcoming events, Q&A and local groups (the sections come from
    the apps that own them, see ``clarion.core.home``)."""
    groups = Area.objects.filter(parent__isnull=False, parent__parent__isnull=True)
    return render(
        request,
        "reports/public_home.html",
        {
            "sections": home_sections(),
            "groups": list(groups.order_by("name")[:HOME_GROUPS]),
        },
    )


@login_required
@require_safe
def organiser_dashboard(request: HttpRequest) -> HttpResponse:
    """The organiser dashboard for the area picked (inside the viewer's scope; their
    whole scope by default, the nation for admins)."""
    user = request.user
    area = dashboard_area(user, request.GET.get("area"))
    picker = list(areas_visible_to(user).order_by("path")[:DASHBOARD_PICKER_MAX])
    return render(
        request,
        "reports/dashboard.html",
        {
            "scope": user.scope_area,
            "area": area,
            "area_query": urlencode({"area": area.pk}) if area is not None else "",
            "figures": dashboard_figures(user, area),
            "picker": picker if len(picker) > 1 else [],
        },
    )


@login_required
@require_safe
def never_attended_list(request: HttpRequest) -> HttpResponse:
    """The people behind the dashboard's "signed up but never came" figure."""
    area = dashboard_area(request.user, request.GET.get("area"))
    people = never_attended(request.user, area)
    return render(
        request,
        "reports/never_attended.html",
        {
            "area": area,
            "people": list(people.select_related("area")[:NEVER_ATTENDED_SHOWN]),
            "total": people.count(),
            "shown": NEVER_ATTENDED_SHOWN,
        },
    )


@login_required
@require_POST
def email_area(request: HttpRequest) -> HttpResponse:
    """Start a mailing to everyone in an area of the viewer's scope: a saved segment
    for the area (made once, reused after) preselected in the mailing composer, whose
    sending applies the sender's scope again."""
    if not request.user.can_write:
        raise PermissionDenied
    raw = request.POST.get("area", "")
    area = dashboard_area(request.user, raw)
    if raw and (area is None or str(area.pk) != raw.strip()):
        raise Http404
    segment = area_segment_get_or_create(user=request.user, area=area)
    return redirect(reverse("mailings_staff:create") + "?" + urlencode({"segment": segment.pk}))
