"""A short way through the middleware for the audience's live feed.

Every audience member polls the feed every few seconds, so in a big session it is
most of the site's traffic. The view reads nothing but the slug and two headers: no
session, user, CSRF token, messages or language (its only translated text is the 404,
which takes the full path). Sessions, locale, auth, OTP and the staff two-factor
check would only cost time here, so this middleware, placed right after security and
static files, answers the feed itself and adds the headers the skipped middleware
would have added to it (CSP, X-Frame-Options). The host is still validated
(ALLOWED_HOSTS), as CommonMiddleware would.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import Resolver404, resolve

from clarion.core.middleware import CSP

SUFFIX = "/live.json"


class LiveFeedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD") and request.path_info.endswith(SUFFIX):
            response = self._feed(request)
            if response is not None:
                return response
        return self.get_response(request)

    @staticmethod
    def _feed(request):
        from . import views

        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        if match.func is not views.live_json:
            return None
        request.get_host()  # DisallowedHost (a 400) for a host outside ALLOWED_HOSTS
        response = views.live_response(request, match.kwargs["slug"])
        if response is None:
            return None  # no such session: the full path answers the (translated) 404
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response
