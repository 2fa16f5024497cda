"""Staff sign-in, two-factor, staff accounts, the audit log and the demo outbox.

Admin-only views answer 403 to everyone else; nothing here reaches people (the home
page and dashboard are in ``clarion.reports``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
from base64 import b32encode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import url_has_allowed_host_and_scheme, urlencode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe
from django_otp import devices_for_user, verify_token
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services
from .forms import (
    LOGIN_EMAIL_SCOPE,
    LOGIN_IP_SCOPE,
    AuditFilterForm,
    LoginForm,
    StaffUserCreateForm,
    StaffUserForm,
    TokenForm,
    login_ip_max_failures,
)
from .models import AuditEntry, DemoMail, User
from .ratelimit import ratelimit_hit, ratelimit_reset

logger = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 50


def _safe_next(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def _require_admin(request: HttpRequest) -> None:
    if not request.user.is_admin:
        raise PermissionDenied


# --- Sign in and out ---------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or "reports:home")
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = form.user
            auth_login(request, user)
            ratelimit_reset(scope=LOGIN_EMAIL_SCOPE, ident=user.email)
            services.audit_record(
                actor=user,
                action=AuditEntry.Action.LOGIN,
                summary=f"{user.email} logged in",
                ip=services.client_ip(request),
            )
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
        if form.locked:
            status = 429
            logger.warning("Login refused while locked out from %s", services.client_ip(request))
        elif form.cleaned_data.get("email") and form.cleaned_data.get("password"):
            _record_login_failure(request, form.cleaned_data["email"])
    return render(request, "core/login.html", {"form": form, "next": next_url}, status=status)


def _record_login_failure(request: HttpRequest, email: str) -> None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    by_email = ratelimit_hit(scope=LOGIN_EMAIL_SCOPE, ident=email, window=window)
    by_ip = ratelimit_hit(
        scope=LOGIN_IP_SCOPE, ident=services.client_ip(request) or "unknown", window=window
    )
    locked = by_email >= settings.LOGIN_MAX_FAILURES or by_ip >= login_ip_max_failures()
    account = User.objects.filter(email=email).first()
    services.audit_record(
        actor=account,
        action=AuditEntry.Action.LOGIN_FAILED,
        summary=f"Failed login for {email}" + (" (now locked out)" if locked else ""),
        # Only what an admin needs to spot an attack; never the password typed.
        detail={"email": email, "reason": "password", "failures": by_email, "locked": locked},
        ip=services.client_ip(request),
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have logged out."))
    return redirect("core:login")


# --- Two-factor ---------------------------------------------------------------------


def _check_code(user: User, code: str):
    """The confirmed device that accepts ``code``, or None.

    Six digits go to the authenticator device, anything else to the backup codes, so a
    wrong code counts against one device's throttle only.
    """
    want = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    for device in devices_for_user(user, confirmed=True):
        if isinstance(device, want):
            verified = verify_token(user, device.persistent_id, code)
            if verified is not None:
                return verified
    return None


def _throttled(user: User) -> bool:
    devices = list(devices_for_user(user, confirmed=True))
    return bool(devices) and all(not d.verify_is_allowed()[0] for d in devices)


@never_cache
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = _safe_next(request)
    if user.is_verified() or not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(next_url or "reports:home")
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        throttled = _throttled(user)
        device = None if throttled else _check_code(user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            return redirect(next_url or "reports:home")
        if throttled:
            # django-otp doubles the wait after each wrong code (1 s, 2 s, 4 s, ...).
            form.add_error(
                "code", _("Too many wrong codes. Wait a minute, then try the newest code.")
            )
        else:
            form.add_error(
                "code",
                _("That code is not right. Enter the code your app shows now, or a backup code."),
            )
        services.audit_record(
            actor=user,
            action=AuditEntry.Action.LOGIN_FAILED,
            summary=f"Wrong two-factor code for {user.email}",
            detail={"email": user.email, "reason": "two_factor"},
            ip=services.client_ip(request),
        )
    return render(request, "core/two_factor_verify.html", {"form": form, "next": next_url})


def _qr_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=5, border=2, xmldecl=False, dark="#1b1f24"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _secret_text(device: TOTPDevice) -> str:
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Turn two-factor on, or (when it is on) issue new backup codes.

    The middleware guarantees a user with a confirmed device has passed two-factor
    before reaching this page.
    """
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed is not None:
        if request.method == "POST" and request.POST.get("action") == "backup_codes":
            codes = services.two_factor_backup_codes_issue(user=user)
            return render(
                request, "core/two_factor_codes.html", {"codes": codes, "new_codes": True}
            )
        left_count = StaticToken.objects.filter(device__user=user).count()
        return render(
            request, "core/two_factor_on.html", {"device": confirmed, "codes_left": left_count}
        )

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        if code.isdigit() and device.verify_token(code):
            codes = services.two_factor_confirm(
                user=user, device=device, ip=services.client_ip(request)
            )
            otp_login(request, device)
            return render(
                request, "core/two_factor_codes.html", {"codes": codes, "next": _safe_next(request)}
            )
        form.add_error(
            "code",
            _(
                "That code is not right. Check that your phone's clock is correct and enter the code the app shows now."
            ),
        )
    return render(
        request,
        "core/two_factor_setup.html",
        {
            "form": form,
            "qr": _qr_data_uri(device.config_url),
            "secret": _secret_text(device),
            "required": settings.CLARION_REQUIRE_2FA,
            "next": _safe_next(request),
        },
    )


# --- Passwords ---------------------------------------------------------------------


class PasswordChange(auth_views.PasswordChangeView):
    template_name = "core/password_change.html"
    success_url = reverse_lazy("reports:home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been changed."))
        return response


password_change = PasswordChange.as_view()


class PasswordSet(auth_views.PasswordResetConfirmView):
    """Where a one-time set-password link lands. The link stops working once used,
    because the token is tied to the current password hash."""

    template_name = "core/password_set.html"
    success_url = reverse_lazy("core:login")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Log in with it now."))
        return response


password_set = PasswordSet.as_view()


def _password_link(request: HttpRequest, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return request.build_absolute_uri(
        reverse("core:password_set", kwargs={"uidb64": uid, "token": token})
    )


# --- Staff users (admins only) -------------------------------------------------------


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    users = (
        User.objects.select_related("area")
        .annotate(two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))
        .order_by("-is_active", "email")
    )
    return render(request, "core/user_list.html", {"users": users})


@sensitive_post_parameters("password")
@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = StaffUserCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = services.staff_user_create(
            actor=request.user,
            email=data["email"],
            name=data["name"],
            role=data["role"],
            area=data["area"],
            password=data["password"] or None,
            ip=services.client_ip(request),
        )
        if data["password"]:
            messages.success(request, _("%(email)s can now log in.") % {"email": user.email})
            return redirect("core:user_list")
        services.staff_user_password_link_record(
            actor=request.user, user=user, ip=services.client_ip(request)
        )
        return render(
            request,
            "core/user_password_link.html",
            {"staff": user, "link": _password_link(request, user)},
        )
    return render(request, "core/user_form.html", {"form": form, "creating": True})


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    staff = get_object_or_404(User.objects.select_related("area"), pk=pk)
    form = StaffUserForm(
        request.POST if request.method == "POST" else None, instance=User.objects.get(pk=pk)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.staff_user_update(
                actor=request.user,
                user=staff,
                name=data["name"],
                role=data["role"],
                area=data["area"],
                ip=services.client_ip(request),
            )
        except services.StaffUserError as exc:
            form.add_error("role", str(exc))
        else:
            messages.success(request, _("Saved %(email)s.") % {"email": staff.email})
            return redirect("core:user_list")
    has_2fa = TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    return render(
        request, "core/user_form.html", {"form": form, "staff": staff, "has_2fa": has_2fa}
    )


@require_POST
@login_required
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    staff = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.staff_user_set_active(
            actor=request.user, user=staff, active=active, ip=services.client_ip(request)
        )
    except services.StaffUserError as exc:
        messages.error(request, str(exc))
        return redirect("core:user_edit", pk=staff.pk)
    if active:
        messages.success(request, _("%(email)s can log in again.") % {"email": staff.email})
    else:
        messages.success(
            request,
            _("%(email)s is deactivated and logged out everywhere.") % {"email": staff.email},
        )
    return redirect("core:user_list")


@require_POST
@login_required
def user_two_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    staff = get_object_or_404(User, pk=pk)
    services.two_factor_reset(actor=request.user, user=staff, ip=services.client_ip(request))
    messages.success(
        request,
        _(
            "Two-factor is reset for %(email)s. They set it up again at their next login if it is required."
        )
        % {"email": staff.email},
    )
    return redirect("core:user_edit", pk=staff.pk)


@require_POST
@login_required
def user_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    staff = get_object_or_404(User, pk=pk)
    services.staff_user_password_link_record(
        actor=request.user, user=staff, ip=services.client_ip(request)
    )
    return render(
        request,
        "core/user_password_link.html",
        {"staff": staff, "link": _password_link(request, staff)},
    )


# --- Audit log (admins only) ---------------------------------------------------------


@require_safe
@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Newest first, keyset-paginated on (created_at, id) so old pages stay fast."""
    _require_admin(request)
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.order_by("-created_at", "-id")
    filters: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
            filters["action"] = data["action"]
        if data["actor"].strip():
            entries = entries.filter(actor_email__iexact=data["actor"].strip())
            filters["actor"] = data["actor"].strip()
        if data["date_from"]:
            entries = entries.filter(created_at__gte=form.day_start(data["date_from"]))
            filters["date_from"] = data["date_from"].isoformat()
        if data["date_to"]:
            entries = entries.filter(
                created_at__lt=form.day_start(data["date_to"] + dt.timedelta(days=1))
            )
            filters["date_to"] = data["date_to"].isoformat()
        if data["before"]:
            pivot = (
                AuditEntry.objects.filter(pk=data["before"])
                .values_list("created_at", flat=True)
                .first()
            )
            if pivot is not None:
                entries = entries.filter(
                    Q(created_at__lt=pivot) | Q(created_at=pivot, pk__lt=data["before"])
                )
    page = list(entries[: AUDIT_PAGE_SIZE + 1])
    older_url = ""
    if len(page) > AUDIT_PAGE_SIZE:
        page = page[:AUDIT_PAGE_SIZE]
        older_url = "?" + urlencode({**filters, "before": page[-1].pk})
    rows = [
        (
            entry,
            json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail else "",
        )
        for entry in page
    ]
    return render(
        request,
        "core/audit_log.html",
        {
            "form": form,
            "rows": rows,
            "older_url": older_url,
            "paged": bool(request.GET.get("before")),
            "first_url": "?" + urlencode(filters) if filters else "?",
        },
    )


# --- Demo outbox --------------------------------------------------------------------

OUTBOX_SHOWN = 100


@require_safe
@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    """The mail a demo has "sent" (it has no mail server), newest first. Admins only:
    messages carry supporters' addresses and personal links."""
    _require_admin(request)
    return render(
        request,
        "core/outbox.html",
        {
            "demo": settings.DEMO,
            "mails": list(DemoMail.objects.all()[:OUTBOX_SHOWN]),
            "shown": OUTBOX_SHOWN,
        },
    )
