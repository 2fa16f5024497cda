"""Staying up when the database or Redis goes away.

Three pieces every process shares:

- ``DB_ERRORS`` / ``REDIS_ERRORS``: the exceptions that mean "the service is not
  there" (a lost or refused connection), as opposed to a bug.
- ``Backoff``: bounded exponential back-off with full jitter, for loops that retry a
  lost service (workers, ``clarion serve`` restarting a child) so a fleet of
  processes does not reconnect in lock step.
- ``DatabaseUnavailableMiddleware``: while the database is away, the site answers a
  friendly 503 page (the API a JSON body) with ``Retry-After`` instead of a 500, and
  closes the broken connection so the next request reconnects by itself.

And one for Redis: ``redis_breaker``, a per-process circuit breaker. After a Redis
error, callers skip Redis for a second and take their fallback (a cache miss, an
open rate limit, the task outbox) instead of paying a connection attempt each time.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger("clarion.faults")


def _db_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    else:
        # Raised unwrapped by code that talks to psycopg directly (and by connect()).
        errors += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(errors)


DB_ERRORS = _db_errors()


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    # ConnectionError covers refused and reset connections; TimeoutError a Redis that
    # hangs; BusyLoadingError (a ConnectionError) a Redis still loading its data set.
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


REDIS_ERRORS = _redis_errors()


class RedisUnavailable(Exception):
    """Raised instead of trying Redis while ``redis_breaker`` is open."""


# Seconds a client is asked to wait before trying again while a service is away.
RETRY_AFTER_SECONDS = 5


class Backoff:
    """Bounded exponential back-off with full jitter.

    ``next()`` returns the next delay: a random time between ``base`` and the current
    ceiling, which doubles after each failure up to ``cap``. ``reset()`` after a
    success. Not thread-safe; one per loop.
    """

    def __init__(self, *, base: float = 0.5, cap: float = 30.0):
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return random.uniform(self.base, max(self.base, ceiling))  # noqa: S311 - jitter only

    def reset(self) -> None:
        self.failures = 0


def close_broken_connections() -> None:
    """Close this thread's database connections after a connection error.

    The next query opens a fresh connection, so a restarted database is picked up
    without restarting Clarion. Closing a connection that is already dead can itself
    raise; that is ignored, the connection is dropped either way.
    """
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - the connection is gone; nothing to save
            conn.connection = None


def database_wait(*, backoff: Backoff, should_stop=lambda: False, limit: float = 300.0) -> bool:
    """Sleep with ``backoff`` until the default database answers, at most ``limit`` s.

    Returns True once a query succeeds, False when ``limit`` passed or ``should_stop()``
    became true. Logs each failed attempt (no personal data: just the error class).
    """
    give_up = time.monotonic() + limit
    while not should_stop():
        close_broken_connections()
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT 1")
            backoff.reset()
            return True
        except DB_ERRORS as exc:
            delay = backoff.next()
            if time.monotonic() + delay > give_up:
                return False
            logger.warning(
                "Database unavailable (%s); trying again in %.1f s", type(exc).__name__, delay
            )
            time.sleep(delay)
    return False


# --- The web side --------------------------------------------------------------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def unavailable_response(request) -> HttpResponse:
    """The 503 a visitor sees while the database is away: JSON under /api/ (the API's
    error shape, ``{"error": ...}``), else a page in the public layout."""
    message = _("The service is briefly unavailable. Please try again in a few seconds.")
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            {"error": message}, status=503, content_type="application/hal+json"
        )
    else:
        response = HttpResponse(_render_page(message), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _render_page(message: str) -> str:
    from django.conf import settings

    # Rendered without the request, so no context processor (the session, the user,
    # messages) touches the database that has just gone away.
    try:
        return render_to_string(
            "503.html",
            {"ORGANISATION_NAME": settings.ORGANISATION_NAME, "message": message},
        )
    except Exception:  # noqa: BLE001 - the page must render even if templates cannot
        logger.exception("Could not render 503.html; sending the plain page")
        title = _("Please try again shortly")
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title></head><body><h1>{title}</h1><p>{message}</p></body></html>"
        )


def _note_request_exception(sender, request=None, **kwargs):
    """Mark a request whose unhandled exception was a lost database connection.

    Django turns an exception raised inside a middleware (the session being saved, the
    user being loaded) into a 500 response at that layer, before any outer middleware
    sees the exception; this signal is the one place that still knows what it was.
    """
    import sys

    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, DB_ERRORS):
        request.clarion_database_lost = True


got_request_exception.connect(_note_request_exception, dispatch_uid="clarion-faults-db")


class DatabaseUnavailableMiddleware:
    """Answer 503 instead of 500 while the database is unreachable, and reconnect.

    Sits first in MIDDLEWARE, so it covers every other middleware's database use
    (sessions, authentication, two-factor) as well as the views. A view's exception
    arrives in ``process_exception``; one raised by an inner middleware has already
    become a 500 and arrives marked by ``_note_request_exception``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except DB_ERRORS:
            return self._unavailable(request)
        if response.status_code == 500 and getattr(request, "clarion_database_lost", False):
            return self._unavailable(request)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DB_ERRORS):
            return self._unavailable(request)
        return None

    _last_logged = 0.0

    def _unavailable(self, request) -> HttpResponse:
        now = time.monotonic()
        if now - self._last_logged >= 1.0:
            # One line a second per process, not one per request, during an outage.
            self._last_logged = now
            logger.warning("Database unavailable: answering 503 (%s)", request.path)
        close_broken_connections()
        response = unavailable_response(request)
        # Logged above; Django would log every 5xx at ERROR again.
        response._has_been_logged = True
        return response


# --- Redis ---------------------------------------------------------------------------


class RedisBreaker:
    """Per-process circuit breaker for Redis.

    ``open()`` is true for ``cool_off`` seconds after a failure: callers take their
    fallback at once. When it closes again the next caller tries Redis, which either
    works or opens the breaker for another ``cool_off``. Failures are logged at most
    once per ``cool_off`` so an outage does not flood the log.
    """

    def __init__(self, *, cool_off: float = 1.0):
        self.cool_off = cool_off
        self._open_until = 0.0
        self._lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() < self._open_until

    def failed(self, what: str, exc: BaseException) -> None:
        with self._lock:
            was_open = self.open()
            self._open_until = time.monotonic() + self.cool_off
        if not was_open:
            logger.warning("Redis unavailable during %s (%s)", what, type(exc).__name__)

    def reset(self) -> None:
        self._open_until = 0.0


redis_breaker = RedisBreaker()
