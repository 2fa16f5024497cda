"""Django's Redis cache, reusing one client, and degrading to misses when Redis is down.

Django's client makes a fresh ``redis.Redis`` around the shared connection pool for
each cache operation, and building one (its table of reply parsers) costs more CPU
than the round trip itself: a poll of the Q&A live feed spent about as long on that
as on everything else. A ``redis.Redis`` is safe to share between threads (each
command borrows a connection from the pool), so one per pool is kept and reused;
the pool still checks the process id, so a forked worker opens its own connections.

A cache is an optimisation, so losing Redis must not fail requests: every operation
that meets a Redis connection error (or finds the breaker in ``core.faults`` open)
answers as a miss — ``get`` the default, ``add`` False, ``incr`` ``ValueError`` as for
a missing key, writes do nothing — and logs once per cool-off. redis-py's default of
ten retries with back-off would hold each operation for seconds; one immediate retry
and short socket timeouts are the defaults here (``OPTIONS`` may override them).
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from .faults import REDIS_ERRORS, RedisUnavailable, redis_breaker

POOL_DEFAULTS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        for name, value in POOL_DEFAULTS.items():
            self._pool_options.setdefault(name, value)
        self._pool_options.setdefault("retry", Retry(NoBackoff(), 1))
        self._hit_script = None
        self._incr_script = None
        self._incr_add_script = None

    def get_client(self, key=None, *, write=False):
        if redis_breaker.open():
            raise RedisUnavailable
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # A race between threads builds two clients once; either serves.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def _degrade(self, what, fallback, call, *args):
        try:
            return call(*args)
        except RedisUnavailable:
            return fallback
        except REDIS_ERRORS as exc:
            redis_breaker.failed(f"cache {what}", exc)
            return fallback

    def add(self, key, value, timeout):
        return self._degrade("add", False, super().add, key, value, timeout)

    def get(self, key, default):
        return self._degrade("get", default, super().get, key, default)

    def set(self, key, value, timeout):
        self._degrade("set", None, super().set, key, value, timeout)

    def touch(self, key, timeout):
        return self._degrade("touch", False, super().touch, key, timeout)

    def delete(self, key):
        return self._degrade("delete", False, super().delete, key)

    def get_many(self, keys):
        return self._degrade("get_many", {}, super().get_many, keys)

    def has_key(self, key):
        return self._degrade("has_key", False, super().has_key, key)

    def incr(self, key, delta):
        """Add ``delta`` to an existing key, keeping its expiry; ValueError when there
        is none (or Redis is unavailable). One round trip, atomic: Django's own
        ``incr`` asks EXISTS, then INCRBY, and a key that expires between the two is
        created again by INCRBY with no expiry, so a cached figure (a page's count,
        say) would never be refreshed."""
        missing = object()
        total = self._degrade("incr", missing, self._incr_existing, key, delta)
        if total is missing or total is None:
            raise ValueError(f"Key '{key}' not found.")
        return total

    def _incr_existing(self, key, delta):
        client = self.get_client(key, write=True)
        if self._incr_script is None:
            self._incr_script = client.register_script(INCR_EXISTING_SCRIPT)  # no round trip
        return self._incr_script(keys=[key], args=[int(delta)], client=client)

    def set_many(self, data, timeout):
        return self._degrade("set_many", [], super().set_many, data, timeout)

    def delete_many(self, keys):
        return self._degrade("delete_many", None, super().delete_many, keys)

    def clear(self):
        return self._degrade("clear", False, super().clear)

    def incr_and_add(self, incr_key, delta, add_key, value, timeout):
        """``incr(incr_key, delta)`` and ``add(add_key, value, timeout)`` in one round
        trip: returns (the new total or None when the key is not there, whether the
        add set the key); (None, False) when Redis is unavailable, as the two
        operations would answer apart."""
        try:
            client = self.get_client(write=True)
        except RedisUnavailable:
            return None, False
        if self._incr_add_script is None:
            self._incr_add_script = client.register_script(INCR_AND_ADD_SCRIPT)
        args = [int(delta), self._serializer.dumps(value), max(int(timeout), 1)]
        try:
            total, added = self._incr_add_script(keys=[incr_key, add_key], args=args, client=client)
        except REDIS_ERRORS as exc:
            redis_breaker.failed("cache incr_and_add", exc)
            return None, False
        return (None if total is None else int(total)), bool(added)

    def count_hits(self, keys_windows):
        """Add one to each key and give it its window's expiry if it has none, in one
        round trip (a server-side script, so atomic per key and fine on any Redis
        version); returns the new totals, or None when Redis is unavailable."""
        keys = [key for key, _ in keys_windows]
        windows = [int(window) for _, window in keys_windows]
        try:
            client = self.get_client(write=True)
        except RedisUnavailable:
            return None
        if self._hit_script is None:
            self._hit_script = client.register_script(HIT_SCRIPT)  # no round trip
        try:
            return [int(n) for n in self._hit_script(keys=keys, args=windows, client=client)]
        except REDIS_ERRORS as exc:
            redis_breaker.failed("cache count_hits", exc)
            return None


# INCR keeps a key's expiry; a key it creates has none, so the script gives it the
# window. A window therefore starts at its first hit and later hits never extend it.
HIT_SCRIPT = """
local totals = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[i]) end
  totals[i] = n
end
return totals
"""


# INCRBY only if the key is there (nil otherwise), so it never makes a key without
# an expiry.
INCR_EXISTING_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


# Both of the above: the first key's INCRBY if it is there, and SET NX EX of the
# second; returns {total or nil, 1 if the second key was set else 0}.
INCR_AND_ADD_SCRIPT = """
local total = false
if redis.call('EXISTS', KEYS[1]) == 1 then
  total = redis.call('INCRBY', KEYS[1], ARGV[1])
end
local added = 0
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then added = 1 end
return {total, added}
"""


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def incr_and_add(self, incr_key, delta, add_key, value, timeout):
        """``incr`` of one key (None when it is not there, instead of ValueError) and
        ``add`` of another with an expiry of ``timeout`` seconds, in one round trip:
        returns (total or None, added)."""
        return self._cache.incr_and_add(
            self.make_and_validate_key(incr_key),
            delta,
            self.make_and_validate_key(add_key),
            value,
            timeout,
        )

    def count_hits(self, keys_windows):
        """One round trip for several rate-limit hits (``core.ratelimit``): returns
        the new totals, or None when Redis is unavailable."""
        return self._cache.count_hits(
            [(self.make_and_validate_key(key), window) for key, window in keys_windows]
        )
