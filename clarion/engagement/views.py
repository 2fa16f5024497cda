"""The staff engagement settings page (admins only)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from clarion.core.services import client_ip

from .forms import SettingsForm
from .selectors import person_engagement
from .services import settings_get, settings_save


@login_required
def engagement_settings(request):
    """Points per category, half-life and ladder levels. Saving a change of points or
    half-life starts the full recompute in the background."""
    if not request.user.is_admin:
        raise PermissionDenied
    settings = settings_get(fresh=True)
    if request.method == "POST":
        form = SettingsForm(request.POST, settings=settings)
        if form.is_valid():
            data = form.cleaned_data
            settings_save(
                weights=data["weights"],
                half_life_days=data["half_life_days"],
                levels=data["levels"],
                actor=request.user,
                ip=client_ip(request),
            )
            messages.success(
                request,
                _("Saved. Scores are being recalculated with the new settings."),
            )
            return redirect("engagement:settings")
    else:
        form = SettingsForm(settings=settings)
    return render(request, "engagement/settings.html", {"form": form, "settings": settings})


def person_panel_context(request, person) -> dict:
    """The person page's engagement panel (the page has checked the viewer's scope)."""
    return {"engagement": person_engagement(person), "can_configure": request.user.is_admin}
