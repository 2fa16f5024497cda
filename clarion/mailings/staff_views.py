"""Staff pages for mailings: list, composer, overview with warnings and controls,
preview as a person in scope, test send, report. Mailings are reached only through
``selectors.access_mailing`` and people only through ``clarion.people.selectors``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST

from clarion.core.services import client_ip
from clarion.people.selectors import access_person

from . import categories, selectors, services
from .forms import (
    EmailCategoryForm,
    FromAddressForm,
    MailingForm,
    SendForm,
    TemplateSaveForm,
    TestSendForm,
    WinnerForm,
)
from .models import EmailCategory, Mailing
from .sending import render as render_mod
from .sending.compose import CompiledMailing

PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'self'"


@login_required
def mailing_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "mailings/staff/list.html", {"rows": selectors.mailing_list_rows(request.user)}
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def mailing_create(request: HttpRequest) -> HttpResponse:
    if not request.user.can_write:
        raise PermissionDenied
    initial = {
        "from_name": request.user.get_full_name(),
        "from_email": request.user.email,
        "body": _('Dear {{ first_name|default:"friend" }},\n\n'),
    }
    allowed = (
        selectors.from_addresses_for_area(request.user.scope_area).first()
        if request.user.scope_area is not None
        else None
    )
    if allowed is not None:
        initial.update(from_email=allowed.email, from_name=allowed.name or initial["from_name"])
    if request.GET.get("segment", "").isdigit():  # preselected by the dashboard's "email your area"
        initial["segment"] = int(request.GET["segment"])
    templates = selectors.templates_for(request.user)
    chosen = None
    if request.method == "GET" and "template" in request.GET:
        raw = request.GET["template"]
        chosen = templates.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 else None
        if chosen is None:
            messages.error(request, _("That template is not available to you."))
        else:
            initial.update(
                name=chosen.name,
                category=chosen.category,
                subject=chosen.subject,
                preheader=chosen.preheader,
                body_format=chosen.body_format,
                body=chosen.body,
            )
    form = MailingForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            mailing = services.mailing_save(
                mailing=form.save(commit=False), actor=request.user, variants=form.variants()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Mailing saved. Check the preview and the warnings, then send it.")
            )
            return redirect("mailings_staff:detail", pk=mailing.pk)
    return render(
        request,
        "mailings/staff/form.html",
        {
            "form": form,
            "mailing": None,
            "merge_fields": render_mod.MERGE_FIELDS,
            "templates": list(templates[:200]),
            "chosen_template": chosen,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def mailing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk, write=request.method == "POST")
    if not mailing.is_editable:
        messages.error(request, _("A mailing that has started sending cannot be changed."))
        return redirect("mailings_staff:detail", pk=mailing.pk)
    form = MailingForm(request.POST or None, instance=mailing, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.mailing_save(
                mailing=form.save(commit=False), actor=request.user, variants=form.variants()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Mailing saved."))
            return redirect("mailings_staff:detail", pk=mailing.pk)
    return render(
        request,
        "mailings/staff/form.html",
        {"form": form, "mailing": mailing, "merge_fields": render_mod.MERGE_FIELDS},
        status=400 if form.errors else 200,
    )


@login_required
def mailing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk)
    return render(request, "mailings/staff/detail.html", _detail_context(request, mailing))


def _detail_context(request: HttpRequest, mailing: Mailing, **extra) -> dict:
    context = {
        "mailing": mailing,
        "send_form": SendForm(),
        "test_form": TestSendForm(user=request.user),
    }
    if mailing.is_editable:
        context["problems"] = selectors.mailing_problems(mailing, request.user)
        if mailing.segment_id or mailing.person_list_id:
            breakdown = selectors.audience_breakdown(mailing, request.user)
            context["breakdown"], context["count"] = breakdown, breakdown["recipients"]
        else:
            context["count"] = 0
    else:
        context["report"] = selectors.mailing_report(mailing)
    context["merge_fields"] = render_mod.MERGE_FIELDS
    context.update(extra)
    return context


def _preview_person(request: HttpRequest):
    raw = request.GET.get("person", "")
    if not raw:
        return None
    return access_person(request.user, raw)


@login_required
def mailing_preview(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk)
    person = _preview_person(request)
    find = request.GET.get("find", "").strip()[:254]
    matches = selectors.preview_people(request.user, find) if find and person is None else []
    if len(matches) == 1:
        person = matches[0]
    variant = _variant(request, mailing)
    try:
        compiled = CompiledMailing(mailing)
        context = compiled.contexts([person.pk])[person.pk] if person else services.sample_context()
        v = compiled.variants[variant]
        subject = (
            render_mod.render(v.subject, context)
            if v.subject is not None
            else _source_subject(mailing, variant)
        )
        error = None
    except render_mod.MergeError as exc:
        subject, error = "", exc.messages
    return render(
        request,
        "mailings/staff/preview.html",
        {
            "mailing": mailing,
            "person": person,
            "find": find,
            "matches": matches,
            "subject": subject,
            "error": error,
            "variant": variant,
            "variants": range(mailing.ab_variants),
        },
    )


def _source_subject(mailing: Mailing, variant: int) -> str:
    from .sending.compose import variant_sources

    return variant_sources(mailing)[variant]["subject"]


def _variant(request: HttpRequest, mailing: Mailing) -> int:
    try:
        v = int(request.GET.get("variant", "0"))
    except ValueError:
        v = 0
    return v if 0 <= v < mailing.ab_variants else 0


@login_required
@xframe_options_sameorigin
def mailing_preview_frame(request: HttpRequest, pk: int) -> HttpResponse:
    """The email's HTML alone, for the preview's iframe, under a CSP that forbids any
    script."""
    mailing = selectors.access_mailing(request.user, pk)
    person = _preview_person(request)
    try:
        compiled = CompiledMailing(mailing)
    except render_mod.MergeError:
        raise Http404 from None
    context = compiled.contexts([person.pk])[person.pk] if person else services.sample_context()
    context = {**context, "unsubscribe_url": "#", "preferences_url": "#", "click": "#", "pixel": ""}
    html = render_mod.render(compiled.variants[_variant(request, mailing)].body.html, context)
    response = HttpResponse(html)
    response["Content-Security-Policy"] = PREVIEW_CSP
    return response


@login_required
@require_POST
def mailing_test(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk, write=True)
    person = None
    if request.POST.get("person"):
        person = access_person(request.user, request.POST["person"])
    form = TestSendForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(
            request,
            "mailings/staff/detail.html",
            _detail_context(request, mailing, test_form=form),
            status=400,
        )
    addresses = form.cleaned_data["addresses"]
    try:
        services.mailing_test_send_to(
            mailing=mailing,
            actor=request.user,
            addresses=addresses,
            person=person,
            variant=_variant(request, mailing),
        )
    except (ValidationError, render_mod.MergeError) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(
            request, _("A test was sent to %(email)s.") % {"email": ", ".join(addresses)}
        )
    return redirect("mailings_staff:detail", pk=mailing.pk)


@login_required
@require_POST
def mailing_send(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk, write=True)
    form = SendForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("mailings_staff:detail", pk=mailing.pk)
    try:
        mailing = services.mailing_send(
            mailing=mailing, actor=request.user, when=form.cleaned_data.get("when")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        if mailing.status == Mailing.Status.SCHEDULED:
            messages.success(request, _("Scheduled."))
        else:
            messages.success(request, _("Sending has started."))
    return redirect("mailings_staff:detail", pk=mailing.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def mailing_unschedule(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a scheduled send: GET asks to confirm, POST takes it back to draft."""
    mailing = selectors.access_mailing(request.user, pk, write=True)
    if request.method == "POST":
        try:
            services.mailing_schedule_cancel(
                mailing=mailing, actor=request.user, ip=client_ip(request)
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request, _("The scheduled send was cancelled. The mailing is a draft again.")
            )
        return redirect("mailings_staff:detail", pk=mailing.pk)
    if mailing.status != Mailing.Status.SCHEDULED:
        messages.error(
            request,
            _(
                "This mailing is no longer scheduled: sending has already started, so it "
                "can only be paused or cancelled from its report."
            )
            if not mailing.is_editable
            else _("This mailing is not scheduled."),
        )
        return redirect("mailings_staff:detail", pk=mailing.pk)
    return render(request, "mailings/staff/unschedule.html", {"mailing": mailing})


@login_required
@require_POST
def mailing_control(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk, write=True)
    action = request.POST.get("action", "")
    if action == "pause":
        ok = services.mailing_pause(mailing=mailing, actor=request.user)
    elif action == "resume":
        ok = services.mailing_resume(mailing=mailing, actor=request.user)
    elif action == "cancel":
        ok = (
            services.mailing_cancel(mailing=mailing, actor=request.user)
            or mailing.status != Mailing.Status.SENT
        )
    else:
        ok = False
    if ok:
        messages.success(request, _("Done."))
    else:
        messages.error(request, _("That cannot be done to this mailing now."))
    return redirect("mailings_staff:detail", pk=mailing.pk)


@login_required
@require_POST
def mailing_winner(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = selectors.access_mailing(request.user, pk, write=True)
    form = WinnerForm(request.POST)
    if not form.is_valid() or form.cleaned_data["variant"] >= mailing.ab_variants:
        messages.error(request, _("Choose one of the variants."))
        return redirect("mailings_staff:detail", pk=mailing.pk)
    n = services.mailing_winner_set(
        mailing=mailing, variant=form.cleaned_data["variant"], actor=request.user
    )
    if n:
        messages.success(request, _("The winner is going to %(n)s more people.") % {"n": n})
    else:
        messages.error(request, _("The winner has already been chosen."))
    return redirect("mailings_staff:detail", pk=mailing.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def from_address_list(request: HttpRequest) -> HttpResponse:
    """The from addresses each area may use; administrators add and remove them."""
    form = (
        FromAddressForm(request.POST or None, user=request.user) if request.user.is_admin else None
    )
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            services.from_address_add(
                actor=request.user, area=d["area"], email=d["email"], name=d["name"]
            )
            messages.success(request, _("From address added."))
            return redirect("mailings_staff:from_addresses")
    return render(
        request,
        "mailings/staff/from_addresses.html",
        {
            "addresses": selectors.from_addresses_for(request.user),
            "form": form,
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@require_POST
def from_address_delete(request: HttpRequest, pk: int) -> HttpResponse:
    address = selectors.access_from_address(request.user, pk, write=True)
    services.from_address_remove(actor=request.user, address=address)
    messages.success(request, _("From address removed."))
    return redirect("mailings_staff:from_addresses")


# --- Saved templates ------------------------------------------------------------------


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "mailings/staff/templates.html",
        {"templates": selectors.templates_for(request.user).select_related("area", "created_by")},
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def template_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Keep a mailing's content as a template to start others from."""
    mailing = selectors.access_mailing(request.user, pk, write=True)
    form = TemplateSaveForm(request.POST or None, initial={"name": mailing.name})
    if request.method == "POST" and form.is_valid():
        template = services.template_save(
            mailing=mailing, name=form.cleaned_data["name"], actor=request.user
        )
        messages.success(
            request,
            _("Saved as the template “%(name)s”: choose it when you start a new mailing.")
            % {"name": template.name},
        )
        return redirect("mailings_staff:detail", pk=mailing.pk)
    return render(
        request,
        "mailings/staff/template_save.html",
        {"form": form, "mailing": mailing},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = selectors.access_template(request.user, pk, write=True)
    if request.method == "POST":
        services.template_delete(template=template, actor=request.user)
        messages.success(request, _("Template removed."))
        return redirect("mailings_staff:templates")
    return render(request, "mailings/staff/template_delete.html", {"template": template})


# --- Email categories -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def category_list(request: HttpRequest) -> HttpResponse:
    """The categories people may stop one by one; administrators add them."""
    form = EmailCategoryForm(request.POST or None) if request.user.is_admin else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            categories.category_save(actor=request.user, category=form.instance)
            messages.success(request, _("Category added."))
            return redirect("mailings_staff:categories")
    return render(
        request,
        "mailings/staff/categories.html",
        {"categories": categories.categories(), "form": form},
        status=400 if form is not None and form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_admin:
        raise PermissionDenied
    category = get_object_or_404(EmailCategory, pk=pk)
    form = EmailCategoryForm(request.POST or None, instance=category)
    if request.method == "POST" and form.is_valid():
        categories.category_save(actor=request.user, category=form.instance)
        messages.success(request, _("Category saved."))
        return redirect("mailings_staff:categories")
    return render(
        request,
        "mailings/staff/category_edit.html",
        {"category": category, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks first (GET); the POST removes the category."""
    if not request.user.is_admin:
        raise PermissionDenied
    category = get_object_or_404(EmailCategory, pk=pk)
    if request.method == "POST":
        categories.category_remove(actor=request.user, category=category)
        messages.success(request, _("Category removed."))
        return redirect("mailings_staff:categories")
    return render(request, "mailings/staff/category_delete.html", {"category": category})
