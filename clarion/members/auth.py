"""Who the member is: the member-session cookie, read on each member page.

Member sessions are not Django sessions: the cookie ``clarion_member`` holds a random
key whose hash names a ``MemberSession`` row. Staff log in through Django's auth and
that never sets this cookie, so being staff grants no member page, and a member
session grants nothing on staff pages.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from clarion.core import tokens
from clarion.people.models import Person

from .models import MemberSession
from .services import LINK_MINUTES, SESSION_DAYS, secret_hash

MEMBER_COOKIE = "clarion_member"
BROWSER_COOKIE = "clarion_member_browser"
_SEEN_EVERY = timedelta(minutes=5)


def _set(response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def member_cookie_set(response, key: str) -> None:
    _set(response, MEMBER_COOKIE, key, SESSION_DAYS * 86400)


def member_cookie_clear(response) -> None:
    response.delete_cookie(MEMBER_COOKIE, samesite="Lax")


def browser_cookie_set(response, secret: str) -> None:
    # Lives a little longer than a link, so a link asked for at the end still works.
    _set(response, BROWSER_COOKIE, secret, (LINK_MINUTES + 5) * 60)


def member_session_of(request) -> MemberSession | None:
    """The unexpired member session the request's cookie names, with its person."""
    if hasattr(request, "_member_session"):
        return request._member_session
    key = request.COOKIES.get(MEMBER_COOKIE, "")
    session = None
    if key and len(key) <= tokens.MAX_LENGTH:
        now = timezone.now()
        session = (
            MemberSession.objects.select_related("person", "person__area")
            .filter(key_hash=secret_hash(key), expires_at__gt=now)
            .first()
        )
        if session is not None and now - session.last_seen_at > _SEEN_EVERY:
            MemberSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    request._member_session = session
    return session


def current_member(request) -> Person | None:
    session = member_session_of(request)
    return session.person if session is not None else None


def member_required(view):
    """Member pages: the signed-in person as ``request.member``, else the sign-in page.
    Answers are never cached (they hold personal data)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        member = current_member(request)
        if member is None:
            return redirect("members:sign_in")
        request.member = member
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Cache-Control"] += ", private"
        return response

    return wrapper
