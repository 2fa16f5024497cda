"""Fixed-window counters in the Django cache, shared by every process.

The cache is the database cache by default and Redis when ``REDIS_URL`` is set, so a
limit holds across web processes and machines. On Redis the increment is atomic; on
the database cache two simultaneous hits may count once, which only ever lets an
attacker one or two extra tries per window.

When Redis is unreachable the limits fail open: a hit is not counted, the request
goes through and a warning is logged (once per second per process). Public
submissions are what the limits guard, and during a spike losing supporters to an
error page costs a campaign more than letting a burst through for the seconds Redis
is away; the forms' other spam defences and the dedupe on email still hold. (With
the database cache the limits share the database's fate: if it is away, so is the
request.)
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache

from .faults import redis_breaker

logger = logging.getLogger("clarion.ratelimit")
_last_warned = 0.0


def _fail_open(scope: str) -> None:
    global _last_warned
    now = time.monotonic()
    if now - _last_warned >= 1.0:
        _last_warned = now
        logger.warning("Rate limit %s not counted: Redis unavailable, failing open", scope)


def _key(scope: str, ident: str) -> str:
    # Hash the identifier: cache keys must be short and free of odd characters, and an
    # email address in a cache key is personal data we do not need to keep readable.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"rl:{scope}:{digest}"


def ratelimit_count(*, scope: str, ident: str) -> int:
    """How many hits ``ident`` has in the current window of ``scope``."""
    return int(cache.get(_key(scope, ident), 0) or 0)


def ratelimit_hit(*, scope: str, ident: str, window: int) -> int:
    """Count one hit and return the new total for the window.

    The window starts at the first hit and lasts ``window`` seconds; later hits do
    not extend it.
    """
    if getattr(cache, "count_hits", None) is not None:
        return ratelimit_hits([(scope, ident, window)])[0]
    key = _key(scope, ident)
    now = int(time.time())
    if redis_breaker.open():
        # The cache would answer every step as a miss; count nothing, as below.
        _fail_open(scope)
        return 0
    cache.add(f"{key}:start", now, timeout=window)
    started = int(cache.get(f"{key}:start", now) or now)
    remaining = max(1, window - (now - started))
    cache.add(key, 0, timeout=remaining)
    try:
        total = cache.incr(key)
    except ValueError:
        if redis_breaker.open():
            _fail_open(scope)
            return 0
        # The window expired between add() and incr(): start a new one.
        cache.set(key, 1, timeout=window)
        return 1
    # The database cache's incr() rewrites the row with the default timeout; put the
    # window's own expiry back.
    cache.touch(key, timeout=remaining)
    return int(total)


def ratelimit_reset(*, scope: str, ident: str) -> None:
    key = _key(scope, ident)
    cache.delete_many([key, f"{key}:start"])


def ratelimit_hits(hits: list[tuple[str, str, int]]) -> list[int]:
    """Count one hit on each ``(scope, ident, window)`` and return the new totals, as
    ``ratelimit_hit`` does for each (with Redis unreachable, 0s: fail open, logged).

    On Redis (``core.cache.RedisCache.count_hits``) every hit is one atomic
    increment, and all of them go in one round trip; other caches count each hit
    through the portable steps of ``ratelimit_hit``."""
    count_hits = getattr(cache, "count_hits", None)
    if count_hits is not None and hits:
        if redis_breaker.open():
            _fail_open(hits[0][0])
            return [0] * len(hits)
        totals = count_hits([(_key(scope, ident), window) for scope, ident, window in hits])
        if totals is None:
            _fail_open(hits[0][0])
            return [0] * len(hits)
        return totals
    return [ratelimit_hit(scope=scope, ident=ident, window=window) for scope, ident, window in hits]
