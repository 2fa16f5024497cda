"""Staff pages for API keys. Admins manage every key; organisers create and revoke
their own (a key never reaches beyond its owner). Analysts have no keys here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .forms import ApiKeyForm
from .selectors import api_keys_for
from .services import api_key_create, api_key_revoke


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
