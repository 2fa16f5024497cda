from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    """A strict CSP on every response: no inline script or style anywhere.

    A view that must be framed (an embeddable widget) sets its own header first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response


class StaffTwoFactorMiddleware:
    """Send a logged-in staff user who has not passed two-factor to the right step.

    A user with a confirmed device must enter a code after the password; when the
    operator requires 2FA (CLARION_REQUIRE_2FA), a user without a device must set one
    up before reaching anything else.
    """

    ALLOWED_PREFIXES = ("/static/", "/media/")
    ALLOWED_NAMES = ("core:logout", "core:two_factor_verify", "core:two_factor_setup")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not self._allowed(request.path):
            from django_otp import user_has_device

            if not user.is_verified():
                if user_has_device(user, confirmed=True):
                    return redirect(f"{reverse('core:two_factor_verify')}?next={request.get_full_path()}")
                if settings.CLARION_REQUIRE_2FA:
                    return redirect("core:two_factor_setup")
        return self.get_response(request)

    def _allowed(self, path: str) -> bool:
        if path.startswith(self.ALLOWED_PREFIXES):
            return True
        return path in {reverse(name) for name in self.ALLOWED_NAMES}
