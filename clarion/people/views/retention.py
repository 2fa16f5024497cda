"""The retention policy page (storage limitation) — national admins only.

The admin sets the periods, previews exactly what a run would do (nothing is saved
or erased by a preview), and only then may turn the policy on. "Run now" asks first
and queues a run; the daily run comes from ``clarion clock``.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.validators import MinValueValidator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clarion.core.models import RetentionPolicy
from clarion.core.services import client_ip
from clarion.people import retention

PERIOD_FIELDS = (
    "inactive_years",
    "donation_record_years",
    "unconfirmed_days",
    "ip_hash_days",
    "ratelimit_days",
)


class RetentionPolicyForm(forms.ModelForm):
    # The periods last previewed on this page; turning the policy on needs them to
    # match what is being saved, so nobody enables settings they have not seen.
    previewed = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = RetentionPolicy
        fields = ["enabled", *PERIOD_FIELDS]
        labels = {"enabled": gettext_lazy("Run the policy every day")}

    def __init__(self, *args, running_key: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # The periods the policy runs with now (None while it is off): saving them
        # unchanged needs no new preview.
        self.running_key = running_key
        self.check_previewed = True
        for name in PERIOD_FIELDS:
            least = 0 if name == "ratelimit_days" else 1
            self.fields[name].validators.append(MinValueValidator(least))
            self.fields[name].widget.attrs["min"] = least

    def periods_key(self) -> str:
        return ",".join(str(self.cleaned_data[name]) for name in PERIOD_FIELDS)

    def clean(self):
        data = super().clean()
        if (
            self.check_previewed
            and data.get("enabled")
            and all(name in data for name in PERIOD_FIELDS)
            and self.periods_key() not in (self.running_key, data.get("previewed"))
        ):
            raise forms.ValidationError(
                _("Preview these settings before turning the policy on."), code="not_previewed"
            )
        return data


def _periods_key(policy: RetentionPolicy) -> str:
    return ",".join(str(getattr(policy, name)) for name in PERIOD_FIELDS)


def _require_admin(request) -> None:
    if not request.user.is_admin:
        raise PermissionDenied


@login_required
def retention_policy(request):
    """Edit and preview the policy. POST ``preview`` shows the preview of the form's
    values without saving; POST ``save`` saves (audited)."""
    _require_admin(request)
    policy = RetentionPolicy.load()
    # Read before the form's validation changes ``policy`` in place.
    running = _periods_key(policy) if policy.enabled else None
    preview = None
    if request.method == "POST":
        form = RetentionPolicyForm(request.POST, instance=policy, running_key=running)
        if "preview" in request.POST:
            # Only the periods are checked here; whether it may be turned on is
            # decided on save, against the periods this preview stamps on the form.
            form.check_previewed = False
            if form.is_valid():
                preview = retention.retention_preview(policy=form.instance)
                data = request.POST.copy()
                data["previewed"] = form.periods_key()
                form = RetentionPolicyForm(data, instance=policy, running_key=running)
        elif form.is_valid():
            retention.retention_policy_update(
                policy=form.save(commit=False), actor=request.user, ip=client_ip(request)
            )
            messages.success(
                request,
                _("Retention policy saved. It runs every day.")
                if form.instance.enabled
                else _("Retention policy saved. It is off: nothing is erased."),
            )
            return redirect("people:retention")
    else:
        form = RetentionPolicyForm(instance=policy, running_key=running)
    return render(
        request,
        "people/retention.html",
        {"form": form, "policy": RetentionPolicy.load(), "preview": preview},
    )


@login_required
def retention_run_now(request):
    """Confirm, then queue a run of the saved policy (only when it is on)."""
    _require_admin(request)
    policy = RetentionPolicy.load()
    if request.method == "POST" and policy.enabled:
        if request.POST.get("confirm") != "run":
            messages.error(request, _("Tick the box to confirm the run."))
        else:
            retention.retention_run_enqueue(actor=request.user)
            messages.success(
                request,
                _("The run has started. Its report appears on this page when it is done."),
            )
            return redirect("people:retention")
    preview = retention.retention_preview(policy=policy) if policy.enabled else None
    return render(request, "people/retention_run.html", {"policy": policy, "preview": preview})
