"""The home page (staff: their dashboard counts; everyone else: the public home) and the
organiser dashboard. This app sits on top: it reads across people, areas and events."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from clarion.areas.models import Area
from clarion.areas.selectors import areas_visible_to
from clarion.core.home import home_sections
from clarion.core.models import User
from clarion.journeys.selectors import dashboard_todos
from clarion.people.imports.export import neutralise
from clarion.people.selectors import people_for

from .dashboard import dashboard_area, dashboard_figures, never_attended
from .funnel import STAGES, Funnel, Period, chart_bars, funnel_figures, list_growth
from .services import area_segment_get_or_create

DASHBOARD_CACHE_SECONDS = 60
DASHBOARD_PICKER_MAX = 1000
DASHBOARD_TODOS_SHOWN = 50
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
    whole scope by default, the nation for admins), with the open "ask a human"
    to-dos from journeys about people there (not cached: they change as they are
    marked)."""
    user = request.user
    area = dashboard_area(user, request.GET.get("area"))
    picker = list(areas_visible_to(user).order_by("path")[:DASHBOARD_PICKER_MAX])
    todos, todos_total = dashboard_todos(user, area, limit=DASHBOARD_TODOS_SHOWN)
    return render(
        request,
        "reports/dashboard.html",
        {
            "scope": user.scope_area,
            "area": area,
            "area_query": urlencode({"area": area.pk}) if area is not None else "",
            "figures": dashboard_figures(user, area),
            "picker": picker if len(picker) > 1 else [],
            "todos": todos,
            "todos_total": todos_total,
            "back": request.get_full_path(),
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


# --- The online→offline funnel (docs/reports.md)

FUNNEL_MAX_MONTHS = 60
FUNNEL_CACHE_SECONDS = 300
FUNNEL_DEFAULT_MONTHS = 12


class FunnelForm(forms.Form):
    """The funnel's period and areas. An area is typed as an id: anything that is not
    one is a form error; an id outside the viewer's scope is refused by the view (404),
    so a crafted parameter gets no figures and no hint of what lies outside."""

    start = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))
    area = forms.CharField(label=gettext_lazy("Area"), required=False, widget=forms.Select)
    compare = forms.CharField(
        label=gettext_lazy("Compare with"), required=False, widget=forms.Select
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.out_of_scope = False
        picker = list(areas_visible_to(user).order_by("path")[:DASHBOARD_PICKER_MAX])
        whole = [("", _("The whole country"))] if user.scope_area is None else []
        self.fields["area"].widget.choices = whole + [(a.pk, a.name) for a in picker]
        self.fields["compare"].widget.choices = [("", _("No comparison"))] + [
            (a.pk, a.name) for a in picker
        ]

    def _clean_date(self, name):
        day = self.cleaned_data.get(name)
        if day is not None and not (2000 <= day.year <= 2200):
            raise forms.ValidationError(_("Enter a date between 2000 and 2200."))
        return day

    def clean_start(self):
        return self._clean_date("start")

    def clean_end(self):
        return self._clean_date("end")

    def _clean_area(self, name):
        raw = (self.cleaned_data.get(name) or "").strip()
        if not raw:
            return self.user.scope_area if name == "area" else None
        if not raw.isdigit() or len(raw) > 18:
            raise forms.ValidationError(_("Choose an area from the list."))
        area = areas_visible_to(self.user).filter(pk=int(raw)).first()
        if area is None:
            self.out_of_scope = True
        return area

    def clean_area(self):
        return self._clean_area("area")

    def clean_compare(self):
        return self._clean_area("compare")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("end", _("The end date must be on or after the start date."))
            elif len(Period(start, end).months()) > FUNNEL_MAX_MONTHS:
                self.add_error(
                    "end",
                    _("Choose a period of at most %(months)s months.")
                    % {"months": FUNNEL_MAX_MONTHS},
                )
        area, compare = data.get("area"), data.get("compare")
        if compare is not None and area == compare:
            self.add_error("compare", _("Choose a different area to compare with."))
        return data


def _funnel_form(request) -> FunnelForm:
    today = timezone.localdate()
    first = today.replace(day=1)
    for _month in range(FUNNEL_DEFAULT_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    data = request.GET.copy()
    data.setdefault("start", first.isoformat())
    data.setdefault("end", today.isoformat())
    form = FunnelForm(data, user=request.user)
    form.is_valid()  # cleans the fields, which notes an area outside the scope
    if form.out_of_scope:
        raise Http404
    return form


def _funnels(request, form: FunnelForm) -> tuple[list[Funnel], list]:
    period = Period(form.cleaned_data["start"], form.cleaned_data["end"])
    areas = [form.cleaned_data["area"]]
    if form.cleaned_data["compare"] is not None:
        areas.append(form.cleaned_data["compare"])
    scope = request.user.scope_area
    key = "reports:funnel:v1:{}:{}:{}:{}:{}".format(
        scope.pk if scope is not None else "all",
        ",".join(str(a.pk) if a is not None else "all" for a in areas),
        period.start.isoformat(),
        period.end.isoformat(),
        get_language(),
    )
    figures = cache.get(key)
    if figures is None:
        # Tens of seconds of counting on millions of rows: the page and its CSV share
        # one result for five minutes per scope, areas, period and language.
        funnels = [funnel_figures(request.user, area, period) for area in areas]
        growth = [list_growth(request.user, area, period) for area in areas]
        figures = (funnels, growth)
        cache.set(key, figures, FUNNEL_CACHE_SECONDS)
    return figures


def _area_name(area) -> str:
    return area.name if area is not None else _("The whole country")


@login_required
@require_safe
def funnel(request: HttpRequest) -> HttpResponse:
    """The online→offline funnel for one area of the viewer's scope (or two side by
    side), with cohorts by month of first action and list growth."""
    form = _funnel_form(request)
    context = {"form": form}
    status = 200
    if form.is_valid():
        funnels, growth = _funnels(request, form)
        context.update(
            funnels=funnels,
            panels=[
                {"name": _area_name(f.area), "funnel": f, "growth": g}
                for f, g in zip(funnels, growth, strict=True)
            ],
            chart=chart_bars(funnels, [_area_name(f.area) for f in funnels]),
            stage_keys=STAGES,
            csv_query=request.GET.urlencode(),
        )
    else:
        status = 400
    return render(request, "reports/funnel.html", context, status=status)


@login_required
@require_safe
def funnel_csv(request: HttpRequest) -> HttpResponse:
    """The funnel page's figures as CSV (long format: section, area, row, measure,
    value). Bad parameters get the page with its form errors, not a file."""
    form = _funnel_form(request)
    if not form.is_valid():
        return render(request, "reports/funnel.html", {"form": form}, status=400)
    funnels, growth = _funnels(request, form)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "area", "row", "measure", "value"])
    for funnel_, rows in zip(funnels, growth, strict=True):
        name = neutralise(_area_name(funnel_.area))
        for stage in funnel_.stages:
            writer.writerow(["funnel", name, stage.key, "people", stage.count])
            if stage.from_previous is not None:
                writer.writerow(["funnel", name, stage.key, "from_previous", stage.from_previous])
                writer.writerow(
                    ["funnel", name, stage.key, "conversion_pct", _num(stage.conversion)]
                )
                writer.writerow(["funnel", name, stage.key, "median_days", _num(stage.median_days)])
        for cohort in funnel_.cohorts:
            for key, n in zip(STAGES, cohort.counts, strict=True):
                writer.writerow(["cohort", name, cohort.month.strftime("%Y-%m"), key, n])
        for row in rows:
            month = row.month.strftime("%Y-%m")
            for measure in ("joined", "unsubscribed", "bounced", "net", "subscribed"):
                writer.writerow(["growth", name, month, measure, getattr(row, measure)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    period = f"{form.cleaned_data['start']:%Y%m%d}-{form.cleaned_data['end']:%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="funnel-{period}.csv"'
    return response


def _num(value) -> str:
    return "" if value is None else f"{value:g}"
