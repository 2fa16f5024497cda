"""Django's Redis cache, without building a new Redis client on every call.

Django's client makes a fresh ``redis.Redis`` around the shared connection pool for
each cache operation, and building one (its table of reply parsers) costs more CPU
than the round trip itself: a poll of the Q&A live feed spent about as long on that
as on everything else. A ``redis.Redis`` is safe to share between threads (each
command borrows a connection from the pool), so one per pool is kept and reused;
the pool still checks the process id, so a forked worker opens its own connections.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # A race between threads builds two clients once; either serves.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
