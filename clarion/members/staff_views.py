"""Staff pages for membership: the report for an area (counts, joins, renewals, lapses,
dues, arrears), a staff correction of one membership, and the membership types.

Every membership is reached through ``members.selectors`` (``memberships_for``,
``access_membership``), which start from ``people_for``: an organiser sees and changes
only their own area's members. Types are the organisation's, set by national staff."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from clarion.areas.models import Area
from clarion.areas.selectors import areas_visible_to
from clarion.core.services import client_ip

from .forms import MembershipChangeForm, MembershipTypeForm
from .membership import membership_staff_change
from .models import MembershipChange, MembershipType
from .payments import DuesError, changes
from .selectors import access_membership, membership_report

PICKER_MAX = 300


def staff_area(user, area_id) -> Area | None:
    """The area picked if it lies inside ``user``'s scope, else the scope itself
    (None: the whole country, for national staff only)."""
    scope = user.scope_area
    if area_id not in (None, ""):
        try:
            pk = int(area_id)
        except (TypeError, ValueError):
            return scope
        picked = areas_visible_to(user).filter(pk=pk).first()
        if picked is not None:
            return picked
    return scope


def _types_admin(user) -> bool:
    return user.scope_area is None and user.can_write


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    area = staff_area(user, request.GET.get("area"))
    return render(
        request,
        "members/staff/overview.html",
        {
            "area": area,
            "scope": user.scope_area,
            "picker": list(areas_visible_to(user).order_by("path")[:PICKER_MAX]),
            "report": membership_report(user, area=area),
            "types_admin": _types_admin(user),
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def change(request: HttpRequest, person_id: int) -> HttpResponse:
    """Change one member's status, type or renewal date, with a reason (audited)."""
    membership = access_membership(request.user, person_id, write=True)
    initial = {
        "status": membership.status,
        "membership_type": membership.membership_type_id,
        "renews_on": membership.renews_on,
    }
    form = MembershipChangeForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # The provider's amount first (as a member's own change does), then the record.
            changes.staff_type_change_at_provider(
                membership=membership,
                membership_type=data["membership_type"],
                status=data["status"],
            )
            membership_staff_change(
                membership=membership,
                actor=request.user,
                reason=data["reason"],
                status=data["status"],
                membership_type=data["membership_type"],
                renews_on=data["renews_on"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except DuesError as exc:
            form.add_error("membership_type", str(exc))
        else:
            messages.success(
                request,
                _("Membership %(number)s is changed.") % {"number": membership.number},
            )
            return redirect("members_staff:change", person_id=membership.person_id)
    return render(
        request,
        "members/staff/change.html",
        {
            "membership": membership,
            "person": membership.person,
            "form": form,
            "history": MembershipChange.objects.filter(membership=membership)
            .select_related("actor")
            .order_by("-at", "-pk")[:30],
        },
        status=400 if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def types(request: HttpRequest) -> HttpResponse:
    """The membership types, and a form to add one (national staff who may write)."""
    admin = _types_admin(request.user)
    form = MembershipTypeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not admin:
            raise PermissionDenied
        if form.is_valid():
            saved = form.save()
            messages.success(request, _("Membership type “%(name)s” added.") % {"name": saved})
            return redirect("members_staff:types")
    return render(
        request,
        "members/staff/types.html",
        {
            "types": MembershipType.objects.order_by("order", "name"),
            "form": form if admin else None,
        },
        status=400 if form.is_bound else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def type_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if not _types_admin(request.user):
        raise PermissionDenied
    membership_type = get_object_or_404(MembershipType, pk=pk)
    form = MembershipTypeForm(
        request.POST if request.method == "POST" else None, instance=membership_type
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(
            request, _("Membership type “%(name)s” saved.") % {"name": membership_type}
        )
        return redirect("members_staff:types")
    return render(
        request,
        "members/staff/type_edit.html",
        {"form": form, "membership_type": membership_type},
        status=400 if form.is_bound else 200,
    )
