"""A short way through the middleware for the audience's live feed.

Every audience member polls the feed every few seconds, so in a big session it is
most of the site's traffic. The view reads nothing but the slug and two headers: no
session, user, CSRF token, messages or language (its only translated text is the 404,
which takes the full path). Sessions, locale, auth, OTP and the staff two-factor
check would only cost time here, so this middleware, placed right after security and
static files, answers the feed itself and adds the headers the skipped middleware
would have added to it (CSP, X-Frame-Options). The host is still validated
(ALLOWED_HOSTS), as CommonMiddleware would.

Which paths are the feed is remembered per path (and URLconf): resolving a path
against the whole URLconf costs more than the rest of a current poll put together
(about 3.5 ms against the 304's few hundred µs, measured on a loaded machine), and
the answer never changes while the process runs.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import Resolver404, get_urlconf, resolve

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
        slug = live_slug(request.path_info, get_urlconf() or settings.ROOT_URLCONF)
        if slug is None:
            return None
        from . import views

        request.get_host()  # DisallowedHost (a 400) for a host outside ALLOWED_HOSTS
        response = views.live_response(request, slug)
        if response is None:
            return None  # no such session: the full path answers the (translated) 404
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response


@lru_cache(maxsize=2048)
def live_slug(path_info: str, urlconf: str) -> str | None:
    """The session slug when ``path_info`` is the live feed's address under
    ``urlconf``, else None. Bounded, so a flood of made-up ``…/live.json`` paths cannot
    grow it without limit."""
    from . import views

    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return None
    return match.kwargs["slug"] if match.func is views.live_json else None
