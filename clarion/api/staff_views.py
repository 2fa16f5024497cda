"""Staff pages for API keys and webhooks. Admins manage every key; organisers create
and revoke their own (a key never reaches beyond its owner). Analysts have no keys
here. Webhooks are for admins only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .forms import ApiKeyForm
from .models import Webhook, WebhookDelivery
from .selectors import api_keys_for
from .services import api_key_create, api_key_revoke
from .webhooks import SIGNATURE_HEADER, delivery_retry_now, webhook_save
from .webhooks_forms import WebhookForm


def _may_manage(user) -> None:
    if not (user.is_admin or user.can_write):
        raise PermissionDenied


@login_required
def key_list(request):
    _may_manage(request.user)
    form = ApiKeyForm(user=request.user)
    return render(
        request, "api/key_list.html", {"keys": api_keys_for(request.user)[:200], "form": form}
    )


@login_required
@require_POST
def key_create(request):
    _may_manage(request.user)
    form = ApiKeyForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            key, token = api_key_create(
                owner=data["owner"],
                actor=request.user,
                scope=data["scope"],
                area=data.get("area"),
                name=data.get("name", ""),
                resources=data.get("resources") or (),
                request=request,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # Shown once, in this answer only; it is never stored or shown again.
            return render(request, "api/key_created.html", {"key": key, "token": token})
    return render(
        request,
        "api/key_list.html",
        {"keys": api_keys_for(request.user)[:200], "form": form},
        status=400,
    )


@login_required
@require_POST
def key_revoke(request, pk: int):
    _may_manage(request.user)
    key = api_keys_for(request.user).filter(pk=pk).first()
    if key is None:
        raise Http404
    if api_key_revoke(key=key, actor=request.user, request=request):
        messages.success(request, _("Key %(prefix)s revoked.") % {"prefix": key.prefix})
    return redirect("api_staff:keys")


# --- Webhooks: admin only, since each delivery carries data about anyone in the database.


def _admin_only(user) -> None:
    if not user.is_admin:
        raise PermissionDenied


def _webhook_or_404(pk: int) -> Webhook:
    webhook = Webhook.objects.filter(pk=pk).first()
    if webhook is None:
        raise Http404
    return webhook


def _webhook_list_page(request, form, status=200):
    webhooks = Webhook.objects.annotate(
        failing=Count("deliveries", filter=Q(deliveries__status__in=["retrying", "failed"])),
        delivered=Count("deliveries", filter=Q(deliveries__status="delivered")),
    )
    return render(
        request,
        "api/webhook_list.html",
        {"webhooks": webhooks[:200], "form": form, "signature_header": SIGNATURE_HEADER},
        status=status,
    )


@login_required
def webhook_list(request):
    _admin_only(request.user)
    if request.method == "POST":
        form = WebhookForm(request.POST)
        if form.is_valid():
            webhook = webhook_save(webhook=form.instance, actor=request.user, request=request)
            messages.success(request, _("Webhook created. Copy its signing secret below."))
            return redirect("api_staff:webhook_edit", pk=webhook.pk)
        return _webhook_list_page(request, form, status=400)
    return _webhook_list_page(request, WebhookForm())


@login_required
def webhook_edit(request, pk: int):
    _admin_only(request.user)
    webhook = _webhook_or_404(pk)
    form = WebhookForm(request.POST or None, instance=webhook)
    if request.method == "POST":
        if form.is_valid():
            webhook_save(webhook=form.instance, actor=request.user, request=request)
            messages.success(request, _("Webhook saved."))
            return redirect("api_staff:webhook_edit", pk=webhook.pk)
    context = {
        "webhook": webhook,
        "form": form,
        "deliveries": webhook.deliveries.order_by("-created_at", "-id")[:50],
        "signature_header": SIGNATURE_HEADER,
    }
    return render(
        request,
        "api/webhook_edit.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def webhook_toggle(request, pk: int):
    _admin_only(request.user)
    webhook = _webhook_or_404(pk)
    webhook.is_active = not webhook.is_active
    webhook_save(webhook=webhook, actor=request.user, request=request)
    if webhook.is_active:
        messages.success(request, _("Webhook turned on."))
    else:
        messages.success(request, _("Webhook turned off; nothing more will be sent to it."))
    return redirect("api_staff:webhook_edit", pk=webhook.pk)


@login_required
@require_POST
def webhook_secret(request, pk: int):
    _admin_only(request.user)
    webhook = _webhook_or_404(pk)
    webhook_save(webhook=webhook, actor=request.user, request=request, new_secret_too=True)
    messages.success(request, _("New signing secret made; the old one no longer verifies."))
    return redirect("api_staff:webhook_edit", pk=webhook.pk)


@login_required
def delivery_list(request):
    _admin_only(request.user)
    qs = WebhookDelivery.objects.select_related("webhook").order_by("-created_at", "-id")
    status = request.GET.get("status", "")
    if status in WebhookDelivery.Status.values:
        qs = qs.filter(status=status)
    webhook_id = request.GET.get("webhook", "")
    if webhook_id.isdigit():
        qs = qs.filter(webhook_id=int(webhook_id))
    return render(
        request,
        "api/webhook_deliveries.html",
        {
            "deliveries": qs[:200],
            "statuses": WebhookDelivery.Status.choices,
            "status": status,
        },
    )


@login_required
@require_POST
def delivery_retry(request, pk: int):
    _admin_only(request.user)
    delivery = WebhookDelivery.objects.filter(pk=pk).first()
    if delivery is None:
        raise Http404
    delivery_retry_now(delivery=delivery)
    messages.success(request, _("Delivery queued to be sent again."))
    return redirect("api_staff:webhook_deliveries")
