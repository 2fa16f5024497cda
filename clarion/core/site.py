"""The site's own address: every absolute URL Clarion writes comes from here.

Links in emails, share links, webhook payloads and calendar files are made outside a
request (a worker builds them), so they follow ``settings.SITE_URL``
(``CLARION_SITE_URL``) rather than whatever host a request came in on. Read at call
time, never at import, so a changed setting (tests, ``make run`` on another port)
applies at once.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http.request import validate_host


def site_url(path: str = "") -> str:
    """``path`` (starting with ``/``, as ``reverse`` gives it) on the configured site
    address; the bare address without a path."""
    base = settings.SITE_URL.rstrip("/")
    if path and not path.startswith("/"):
        path = "/" + path
    return base + path


def site_host() -> str:
    """The host name of the configured site address, lower case, without the port."""
    return (urlsplit(settings.SITE_URL).hostname or "").lower()


def is_own_url(url: str) -> bool:
    """True when ``url`` points at this site, whatever its scheme or port.

    A link written while the site ran on another port (``http://host:8000/act/x/``
    in a mailing composed before ``CLARION_SITE_URL`` changed), or with ``https``
    where the site now says ``http``, is still ours: the host name is compared with
    the configured site host and ``ALLOWED_HOSTS``.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == site_host():
        return True
    # "*" would make every address ours, and hand the mailing token to any site.
    allowed = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    return validate_host(f"[{host}]" if ":" in host else host, allowed)


def own_url_on_site(url: str) -> str:
    """``url`` (one of ours, see ``is_own_url``) moved onto the configured site address:
    the same path, query and fragment, the configured scheme, host and port."""
    parts = urlsplit(url)
    site = urlsplit(settings.SITE_URL)
    path = parts.path or "/"
    prefix = site.path.rstrip("/")
    if prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit((site.scheme, site.netloc, path, parts.query, parts.fragment))
