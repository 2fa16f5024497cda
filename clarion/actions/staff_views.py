"""Staff pages for action pages: list, builder, preview, duplicate, close, dashboard,
invalidation tool and survey results. Pages are reached only through
``selectors.access_page`` (scoped to the user's area)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .exports import signers_export_stream, signers_segment_create
from .forms import (
    ActionForm,
    DonationForm,
    InvalidateForm,
    KindChoiceForm,
    PageForm,
    kind_choices,
    money_label,
)
from .models import ActionPage
from .views import page_context, with_csp


@login_required
def page_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "actions/staff/page_list.html", {"rows": selectors.page_list_rows(request.user)}
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def page_create(request: HttpRequest) -> HttpResponse:
    """Step one chooses the kind (``?kind=``); step two is that kind's form only."""
    if not request.user.can_write:
        raise PermissionDenied
    chooser = KindChoiceForm(request.POST or request.GET or None)
    if not chooser.is_valid():
        return render(
            request,
            "actions/staff/page_kind.html",
            {"form": KindChoiceForm(), "kinds": kind_choices()},
            status=400 if request.method == "POST" else 200,
        )
    kind = chooser.cleaned_data["kind"]
    initial = {}
    if request.user.scope_area is not None:
        initial["area"] = request.user.scope_area
    form = PageForm(
        request.POST or None,
        request.FILES or None,
        user=request.user,
        kind=kind,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        page = services.page_save(page=form.save(commit=False), actor=request.user)
        messages.success(request, _("Page created as a draft. Preview it, then press Publish."))
        return redirect("actions_staff:detail", pk=page.pk)
    return render(
        request,
        "actions/staff/page_form.html",
        {"form": form, "page": None, "kind_label": ActionPage.Kind(kind).label},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def page_edit(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.access_page(request.user, pk, write=request.method == "POST")
    form = PageForm(request.POST or None, request.FILES or None, instance=page, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.page_save(page=form.save(commit=False), actor=request.user)
        messages.success(request, _("Page saved."))
        return redirect("actions_staff:detail", pk=page.pk)
    return render(
        request,
        "actions/staff/page_form.html",
        {"form": form, "page": page, "kind_label": page.get_kind_display()},
        status=400 if form.errors else 200,
    )


@login_required
def page_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The public page as it will look, drafts included; the form does not submit."""
    page = selectors.access_page(request.user, pk)
    form_class = DonationForm if page.kind == ActionPage.Kind.DONATION else ActionForm
    context = page_context(request, page, form_class(page=page))
    context["preview"] = True
    context["is_open"] = True
    response = render(request, "actions/staff/preview.html", context)
    return with_csp(response, video=bool(context["video_url"]))


@login_required
@require_POST
def page_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.access_page(request.user, pk, write=True)
    copy = services.page_duplicate(page=page, actor=request.user)
    messages.success(
        request, _("A draft copy was made. Change its web address and title before going live.")
    )
    return redirect("actions_staff:edit", pk=copy.pk)


def _confirm(request: HttpRequest, page: ActionPage, *, action: str) -> HttpResponse:
    """The step before publishing or closing: says what will happen, asks once more."""
    return render(request, "actions/staff/confirm_status.html", {"page": page, "action": action})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def page_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks, POST sets the draft live."""
    page = selectors.access_page(request.user, pk, write=True)
    if page.status != ActionPage.Status.DRAFT:
        messages.info(request, _("This page is not a draft, so there is nothing to publish."))
        return redirect("actions_staff:detail", pk=page.pk)
    if request.method != "POST":
        return _confirm(request, page, action="publish")
    services.page_publish(page=page, actor=request.user)
    messages.success(request, _("The page is live. Share its address."))
    return redirect("actions_staff:detail", pk=page.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def page_close(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks, POST stops the page taking actions."""
    page = selectors.access_page(request.user, pk, write=True)
    if page.status == ActionPage.Status.CLOSED:
        messages.info(request, _("This page is already closed."))
        return redirect("actions_staff:detail", pk=page.pk)
    if request.method != "POST":
        return _confirm(request, page, action="close")
    services.page_close(page=page, actor=request.user)
    messages.success(request, _("The page is closed. It still shows its count."))
    return redirect("actions_staff:detail", pk=page.pk)


@login_required
def page_detail(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.access_page(request.user, pk)
    dashboard = selectors.page_dashboard(request.user, page)
    embed_url = request.build_absolute_uri(reverse("actions:embed", kwargs={"slug": page.slug}))
    return render(
        request,
        "actions/staff/page_detail.html",
        {
            "page": page,
            "dash": dashboard,
            "public_url": selectors.page_public_url(page),
            "money_label": money_label(dashboard.money["amount_pence"], page.currency)
            if dashboard.money
            else "",
            "embed_snippet": (
                f'<iframe src="{escape(embed_url)}" title="{escape(page.title)}" width="100%" height="720" '
                f'loading="lazy"></iframe>'
            ),
        },
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def page_invalidate(request: HttpRequest, pk: int) -> HttpResponse:
    """Find a batch of bad submissions (one IP, one domain, a time window), show how
    many match, and on confirmation stop counting them."""
    page = selectors.access_page(request.user, pk, write=request.method == "POST")
    form = InvalidateForm(request.POST or None)
    matched = None
    if request.method == "POST" and form.is_valid():
        match = services.InvalidationFilter(
            ip_hash=form.cleaned_data["ip"],
            email_domain=form.cleaned_data["email_domain"],
            since=form.cleaned_data["since"],
            until=form.cleaned_data["until"],
        )
        if request.POST.get("confirm") == "yes":
            try:
                changed = services.submissions_invalidate(
                    page=page,
                    match=match,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    request=request,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    _("%(n)s submissions are no longer counted. The count is now %(count)s.")
                    % {"n": changed, "count": selectors.page_count_fresh(page)},
                )
                return redirect("actions_staff:detail", pk=page.pk)
        else:
            matched = selectors.submissions_matching(page, match.q())
    return render(
        request,
        "actions/staff/invalidate.html",
        {"page": page, "form": form, "matched": matched},
        status=400 if form.errors else 200,
    )


@login_required
def page_results(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.access_page(request.user, pk)
    return render(
        request,
        "actions/staff/results.html",
        {
            "page": page,
            "results": selectors.survey_results(page),
            "count": selectors.page_count_fresh(page),
        },
    )


def _no_signers(page: ActionPage) -> None:
    # Gifts live in the donations app, above this one; its pages have no signers here.
    if page.kind == ActionPage.Kind.DONATION:
        raise Http404


@login_required
def page_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The page's signers in the user's scope as CSV (audited, streamed)."""
    page = selectors.access_page(request.user, pk)
    _no_signers(page)
    lines = signers_export_stream(user=request.user, page=page, request=request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="page-{page.pk}-signers-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def page_segment(request: HttpRequest, pk: int) -> HttpResponse:
    """Save a segment of the page's signers and open it."""
    page = selectors.access_page(request.user, pk, write=True)
    _no_signers(page)
    segment = signers_segment_create(user=request.user, page=page)
    messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    return redirect("people:segment_detail", pk=segment.pk)
