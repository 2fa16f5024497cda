from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from clarion.core.storage import PUBLIC_MEDIA_PREFIXES

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

    A user with a confirmed device must enter a code after the password before
    anything else (including the setup page, so a stolen password cannot enrol a
    second device); when the operator requires 2FA (CLARION_REQUIRE_2FA), a user
    without a device must set one up first. Runs after OTPMiddleware. Costs nothing
    for verified users; an unverified user costs one small indexed query per device
    type.
    """

    VERIFY_STEP = ("core:logout", "core:two_factor_verify")
    SETUP_STEP = ("core:logout", "core:two_factor_setup")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(self.allowed_prefixes())
        ):
            from django_otp import user_has_device

            if user_has_device(user, confirmed=True):
                if not self._is(request.path, self.VERIFY_STEP):
                    return redirect(self._with_next("core:two_factor_verify", request))
            elif settings.CLARION_REQUIRE_2FA and not self._is(request.path, self.SETUP_STEP):
                return redirect(self._with_next("core:two_factor_setup", request))
        return self.get_response(request)

    @staticmethod
    def allowed_prefixes() -> tuple[str, ...]:
        """Paths an unverified user may fetch: static assets and public media only.

        Not the whole of MEDIA_URL: a password alone must not open anything under it
        that is not public by design (see ``clarion.core.storage``).
        """
        return (settings.STATIC_URL,) + tuple(
            settings.MEDIA_URL + prefix for prefix in PUBLIC_MEDIA_PREFIXES
        )

    @staticmethod
    def _is(path: str, names: tuple[str, ...]) -> bool:
        return path in {reverse(name) for name in names}

    @staticmethod
    def _with_next(name: str, request) -> str:
        url = reverse(name)
        if request.method == "GET" and request.path != reverse("reports:home"):
            url += "?" + urlencode({"next": request.get_full_path()})
        return url
