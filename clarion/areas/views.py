"""Staff pages for the area tree: what a user sees is limited to their scope."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record, client_ip

from . import counts
from .forms import AreaUploadForm, GroupPageForm
from .models import Area
from .selectors import areas_visible_to
from .services import areas_load_csv, group_page_save, postcodes_load_csv

MAX_DEPTH_CLASS = 6


def _people_counts(user, areas: list[Area], within: Area | None = None) -> tuple[dict, dict, int]:
    """Direct and subtree people counts per area id, from one GROUP BY query.

    Returns (direct, subtree, no_area): ``no_area`` counts people without an area,
    which only national staff can see.
    """
    direct = counts.people_per_area(user, within)
    visible = {a.pk for a in areas}
    path_of = {a.pk: a.path for a in areas}
    subtree: dict[int, int] = dict.fromkeys(visible, 0)
    for area_id, n in direct.items():
        if area_id is None or area_id not in path_of:
            continue
        for ancestor in path_of[area_id].strip("/").split("/"):
            ancestor_id = int(ancestor)
            if ancestor_id in subtree:
                subtree[ancestor_id] += n
    return direct, subtree, direct.get(None, 0) if within is None else 0


def _rows(areas: list[Area], direct: dict, subtree: dict) -> list[dict]:
    top = min((a.depth for a in areas), default=0)
    return [
        {
            "area": a,
            "indent": min(a.depth - top, MAX_DEPTH_CLASS),
            "direct": direct.get(a.pk, 0),
            "subtree": subtree.get(a.pk, 0),
        }
        for a in areas
    ]


@login_required
def area_list(request: HttpRequest) -> HttpResponse:
    areas = list(areas_visible_to(request.user).order_by("path"))
    direct, subtree, no_area = _people_counts(request.user, areas)
    return render(
        request,
        "areas/area_list.html",
        {
            "rows": _rows(areas, direct, subtree),
            "no_area": no_area,
            "national": request.user.scope_area is None,
        },
    )


@login_required
def area_detail(request: HttpRequest, pk: int) -> HttpResponse:
    area = areas_visible_to(request.user).filter(pk=pk).select_related("parent").first()
    if area is None:
        raise Http404
    subtree_areas = list(
        areas_visible_to(request.user).filter(path__startswith=area.path).order_by("path")
    )
    direct, subtree, _no_area = _people_counts(request.user, subtree_areas, within=area)
    children = [
        row for row in _rows(subtree_areas, direct, subtree) if row["area"].parent_id == area.pk
    ]
    ancestor_ids = [int(part) for part in area.path.strip("/").split("/")[:-1]]
    ancestors = list(areas_visible_to(request.user).filter(pk__in=ancestor_ids).order_by("depth"))
    return render(
        request,
        "areas/area_detail.html",
        {
            "area": area,
            "ancestors": ancestors,
            "children": children,
            "direct": direct.get(area.pk, 0),
            "total": subtree.get(area.pk, 0),
        },
    )


@login_required
def area_upload(request: HttpRequest) -> HttpResponse:
    """Load an areas or postcodes CSV with the same services as the commands."""
    if not request.user.is_admin:
        raise PermissionDenied
    form = AreaUploadForm(request.POST or None, request.FILES or None)
    result = None
    errors: list[str] = []
    kind = ""
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        text = form.cleaned_data["file"]
        errors = form.line_errors()
        if not errors:
            try:
                if kind == form.KIND_AREAS:
                    result = areas_load_csv(text=text)
                else:
                    result = postcodes_load_csv(text=text)
            except ValueError as exc:  # area_move refusing a loop in the tree
                errors = [str(exc)]
            else:
                errors = result.errors
                if result.created or result.updated:
                    audit_record(
                        actor=request.user,
                        action=AuditEntry.Action.IMPORT,
                        summary=f"Loaded {kind} from {request.FILES['file'].name[:200]}",
                        object_type=kind,
                        detail={
                            "file": request.FILES["file"].name[:200],
                            "created": result.created,
                            "updated": result.updated,
                            "rejected": len(result.errors),
                        },
                        ip=client_ip(request),
                    )
    return render(
        request,
        "areas/area_upload.html",
        {
            "form": form,
            "result": result,
            "errors": errors[:200],
            "more_errors": max(0, len(errors) - 200),
            "kind": kind,
            "all_or_nothing": kind == AreaUploadForm.KIND_AREAS,
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def group_page_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """An organiser (or admin) edits the public group page of an area in their scope."""
    area = areas_visible_to(request.user).filter(pk=pk).first()
    if area is None:
        raise Http404
    if not request.user.can_write:
        raise PermissionDenied
    form = GroupPageForm(request.POST or None, instance=area)
    if request.method == "POST" and form.is_valid():
        group_page_save(
            area=area,
            get_involved=form.cleaned_data["get_involved"],
            join_tag=form.cleaned_data["join_tag"],
        )
        messages.success(request, _("The group page is saved."))
        return redirect("areas:detail", pk=area.pk)
    return render(
        request,
        "areas/group_edit.html",
        {"area": area, "form": form},
        status=400 if form.errors else 200,
    )
