"""Members' passkeys: the page listing a member's passkeys (add, name, remove) and the
JSON endpoints the passkey script calls to add one and to sign in with one. Without
JavaScript, or in a browser without passkeys, the pages offer only the email link."""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from clarion.core.ratelimit import ratelimit_hits
from clarion.core.services import client_ip

from . import auth, passkeys, services
from .models import Passkey

PASSKEY_COOKIE = "clarion_member_passkey"
# A passkey's answer is a few kilobytes; anything much bigger is not one.
BODY_MAX = 64 * 1024


class PasskeyNameForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=passkeys.NAME_MAX, required=False)


class PasskeyAddForm(PasskeyNameForm):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=passkeys.NAME_MAX,
        required=False,
        help_text=gettext_lazy("So you can tell your passkeys apart, for example “My phone”."),
    )


def _own_passkey(member, value) -> Passkey:
    try:
        pk = int(value or "")
    except ValueError:
        raise Http404 from None
    passkey = passkeys.passkeys_of(member).filter(pk=pk).first()
    if passkey is None:
        raise Http404
    return passkey


def _json_body(request: HttpRequest) -> dict | None:
    if len(request.body) > BODY_MAX:
        return None
    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


# --- The member's passkeys -----------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def passkey_list(request: HttpRequest) -> HttpResponse:
    """The member's passkeys, each with a form to rename it; a POST renames one."""
    member = request.member
    failed = None
    if request.method == "POST":
        passkey = _own_passkey(member, request.POST.get("passkey"))
        form = PasskeyNameForm(request.POST, auto_id=f"id_passkey_{passkey.pk}_%s")
        if form.is_valid():
            passkeys.passkey_rename(passkey=passkey, name=form.cleaned_data["name"])
            messages.success(request, _("The passkey's name is saved."))
            return redirect("members:passkeys")
        failed = (passkey.pk, form)
    rows = []
    for passkey in passkeys.passkeys_of(member):
        if failed and failed[0] == passkey.pk:
            form = failed[1]
        else:
            form = PasskeyNameForm(
                initial={"name": passkey.name}, auto_id=f"id_passkey_{passkey.pk}_%s"
            )
        rows.append({"passkey": passkey, "form": form})
    return render(
        request,
        "members/passkeys.html",
        {
            "member": member,
            "rows": rows,
            "available": passkeys.relying_party() is not None,
            "full": len(rows) >= passkeys.MAX_PER_MEMBER,
            "fresh": _fresh(auth.member_session_of(request)),
            "fresh_minutes": int(FRESH_SIGN_IN.total_seconds() // 60),
            "add_form": PasskeyAddForm(auto_id="id_new_%s"),
            "section": "passkeys",
        },
        status=400 if failed else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@auth.member_required
def passkey_remove(request: HttpRequest) -> HttpResponse:
    """Remove one of the member's passkeys, after a confirmation page."""
    data = request.POST if request.method == "POST" else request.GET
    passkey = _own_passkey(request.member, data.get("passkey"))
    if request.method != "POST":
        return render(
            request, "members/passkey_remove.html", {"passkey": passkey, "section": "passkeys"}
        )
    passkeys.passkey_remove(passkey=passkey, ip=client_ip(request))
    messages.success(request, _("The passkey is removed. It no longer signs you in."))
    return redirect("members:passkeys")


# Adding a passkey needs a sign-in this recent: a borrowed or stolen signed-in browser
# cannot plant a passkey that outlives its session.
FRESH_SIGN_IN = timedelta(minutes=30)


def _fresh(session) -> bool:
    return session is not None and session.created_at >= timezone.now() - FRESH_SIGN_IN


def _not_fresh() -> JsonResponse:
    return _refused(
        _("To add a passkey, sign in again with a link we email you, then add it."), status=403
    )


@require_POST
@auth.member_required
def passkey_add_options(request: HttpRequest) -> HttpResponse:
    session = auth.member_session_of(request)
    if not _fresh(session):
        return _not_fresh()
    try:
        options = passkeys.passkey_registration_options(
            person=request.member, session_key_hash=session.key_hash
        )
    except passkeys.PasskeyRefused as exc:
        return _refused(str(exc), status=404)
    return HttpResponse(options, content_type="application/json")


@require_POST
@auth.member_required
def passkey_add(request: HttpRequest) -> HttpResponse:
    """The authenticator's answer, as ``{"name": …, "credential": {…}}``."""
    data = _json_body(request)
    if data is None or not isinstance(data.get("credential"), dict):
        return _refused(_("The passkey's answer could not be read."))
    form = PasskeyNameForm({"name": data.get("name") if isinstance(data.get("name"), str) else ""})
    if not form.is_valid():
        return _refused(" ".join(form.errors["name"]))
    session = auth.member_session_of(request)
    if not _fresh(session):
        return _not_fresh()
    try:
        passkeys.passkey_register(
            person=request.member,
            session_key_hash=session.key_hash,
            credential=data["credential"],
            name=form.cleaned_data["name"],
            ip=client_ip(request),
        )
    except passkeys.PasskeyRefused as exc:
        return _refused(str(exc))
    messages.success(request, _("Your passkey is added. You can sign in with it from now on."))
    return JsonResponse({"redirect": reverse("members:passkeys")})


# --- Signing in with a passkey -------------------------------------------------------


@never_cache
@require_POST
def passkey_sign_in_options(request: HttpRequest) -> HttpResponse:
    """Start a sign-in: a challenge for this browser (cookie ``clarion_member_passkey``).
    Counted per network address, since each start stores a challenge."""
    (per_ip,) = ratelimit_hits(
        [("members-passkey-ip", client_ip(request) or "unknown", passkeys.SIGN_IN_LIMIT_WINDOW)]
    )
    if per_ip > passkeys.SIGN_IN_IP_LIMIT:
        return _refused(_("Too many sign-in attempts. Please try again in an hour."), status=429)
    secret = services.new_secret()
    try:
        options = passkeys.passkey_sign_in_options(browser_secret=secret)
    except passkeys.PasskeyRefused as exc:
        return _refused(str(exc), status=404)
    response = HttpResponse(options, content_type="application/json")
    response.set_cookie(
        PASSKEY_COOKIE,
        secret,
        max_age=passkeys.CHALLENGE_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


@never_cache
@require_POST
def passkey_sign_in(request: HttpRequest) -> HttpResponse:
    """Finish a sign-in: ``{"credential": {…}}`` from ``navigator.credentials.get``.
    On success the member cookie is set and the answer names the page to go to."""
    data = _json_body(request)
    if data is None or not isinstance(data.get("credential"), dict):
        return _refused(_("The passkey's answer could not be read."))
    secret = request.COOKIES.get(PASSKEY_COOKIE, "")
    try:
        result = passkeys.passkey_sign_in(
            credential=data["credential"],
            browser_secret=secret if len(secret) <= 100 else "",
            ip=client_ip(request),
        )
    except passkeys.PasskeyRefused as exc:
        response = _refused(str(exc))
    else:
        response = JsonResponse({"redirect": reverse("members:home")})
        auth.member_cookie_set(response, result.session_key)
    response.delete_cookie(PASSKEY_COOKIE, samesite="Strict")
    return response
