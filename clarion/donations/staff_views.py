"""Staff pages for donations: the list, a donation, recurring plans and the
permissibility queue. Every row is reached through ``donations.selectors``, which
scopes by the donor (``people_for``), so an organiser never sees another area's gifts.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clarion.actions.models import ActionPage
from clarion.actions.selectors import access_page

from . import services
from .exports import donors_export_stream, donors_segment_create
from .forms import DonationFilterForm, PermissibilityForm, PlanCancelForm
from .models import Donation, RecurringPlan
from .selectors import access_donation, access_plan, compliance_queue, donations_for, plans_for

PAGE_SIZE = 50


def _after(request) -> int | None:
    try:
        value = int(request.GET.get("after", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _keyset(qs, after: int | None):
    if after is not None:
        qs = qs.filter(pk__lt=after)
    rows = list(qs.order_by("-pk")[: PAGE_SIZE + 1])
    if len(rows) > PAGE_SIZE:
        return rows[:PAGE_SIZE], rows[PAGE_SIZE - 1].pk
    return rows, None


@login_required
def donation_list(request):
    user = request.user
    qs = donations_for(user)
    pages = ActionPage.objects.filter(pk__in=qs.values("page_id")).order_by("title")
    form = DonationFilterForm(request.GET or None, pages=pages)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["page"]:
            qs = qs.filter(page=data["page"])
        if data["status"]:
            qs = qs.filter(status=data["status"])
        if data["permissibility"]:
            qs = qs.filter(permissibility=data["permissibility"])
    elif form.is_bound:
        qs = qs.none()
    plan_id = request.GET.get("plan", "")
    if plan_id.isdigit() and len(plan_id) < 19:
        qs = qs.filter(plan_id=int(plan_id))
    totals = qs.filter(status=Donation.Status.SUCCEEDED).aggregate(
        amount=Coalesce(Sum(F("amount_pence") - F("refunded_pence")), 0)
    )
    after = _after(request)
    rows, next_after = _keyset(qs.select_related("person", "page"), after)
    params = request.GET.copy()
    params.pop("after", None)
    next_params = params.copy()
    if next_after is not None:
        next_params["after"] = str(next_after)
    return render(
        request,
        "donations/staff/donation_list.html",
        {
            "form": form,
            "donations": rows,
            "count": qs.count(),
            "total_pence": totals["amount"],
            "is_first_page": after is None,
            "first_page_query": params.urlencode(),
            "next_query": next_params.urlencode() if next_after is not None else "",
        },
    )


@login_required
def donation_detail(request, pk: int):
    donation = access_donation(request.user, pk)
    return render(
        request,
        "donations/staff/donation_detail.html",
        {
            "donation": donation,
            "form": PermissibilityForm()
            if donation.permissibility == Donation.Permissibility.PENDING
            else None,
        },
    )


@login_required
def compliance(request):
    return render(
        request,
        "donations/staff/compliance.html",
        {"donations": compliance_queue(request.user)[:200]},
    )


@login_required
@require_POST
def permissibility(request, pk: int):
    donation = access_donation(request.user, pk, write=True)
    form = PermissibilityForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "donations/staff/donation_detail.html",
            {"donation": donation, "form": form},
            status=400,
        )
    try:
        services.permissibility_decide(
            donation=donation,
            decision=form.cleaned_data["decision"],
            note=form.cleaned_data["note"],
            actor=request.user,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("donations_staff:detail", pk=donation.pk)
    messages.success(request, _("Decision recorded for donation #%(id)s.") % {"id": donation.pk})
    return redirect("donations_staff:compliance")


@login_required
def plan_list(request):
    qs = plans_for(request.user).select_related("person", "page")
    status = request.GET.get("status", "")
    if status in RecurringPlan.Status.values:
        qs = qs.filter(status=status)
    after = _after(request)
    rows, next_after = _keyset(qs, after)
    params = request.GET.copy()
    params.pop("after", None)
    next_params = params.copy()
    if next_after is not None:
        next_params["after"] = str(next_after)
    return render(
        request,
        "donations/staff/plan_list.html",
        {
            "plans": rows,
            "status": status,
            "statuses": RecurringPlan.Status.choices,
            "cancel_form": PlanCancelForm(),
            "is_first_page": after is None,
            "first_page_query": params.urlencode(),
            "next_query": next_params.urlencode() if next_after is not None else "",
        },
    )


@login_required
@require_POST
def plan_renew(request, pk: int):
    plan = access_plan(request.user, pk, write=True)
    try:
        donation = services.test_renewal_simulate(plan=plan, actor=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Recorded a renewal payment (donation #%(id)s).") % {"id": donation.pk}
        )
    return redirect("donations_staff:plans")


@login_required
@require_POST
def plan_cancel(request, pk: int):
    plan = access_plan(request.user, pk, write=True)
    form = PlanCancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    services.plan_cancel(
        plan=plan, reason=reason, actor=request.user, request=request, tell_gateway=True
    )
    messages.success(request, _("The monthly donation was stopped."))
    return redirect("donations_staff:plans")


def _donation_page(user, pk: int, *, write: bool = False) -> ActionPage:
    # The action page selector's scope (an organiser never opens a national page), and
    # only donation pages have donors.
    page = access_page(user, pk, write=write)
    if page.kind != ActionPage.Kind.DONATION:
        raise Http404
    return page


@login_required
def page_donors_export(request, pk: int):
    """The page's donors in the user's scope as CSV (audited, streamed)."""
    page = _donation_page(request.user, pk)
    lines = donors_export_stream(user=request.user, page=page, request=request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="page-{page.pk}-donors-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def page_donors_segment(request, pk: int):
    """Save a segment of the page's donors and open it."""
    page = _donation_page(request.user, pk, write=True)
    segment = donors_segment_create(user=request.user, page=page)
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    return redirect("people:segment_detail", pk=segment.pk)
