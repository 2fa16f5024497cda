"""The Redis cache backend reuses one client per connection pool."""

from __future__ import annotations

import threading

import pytest
import redis

from clarion.core.cache import RedisCache

LOCATION = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_cache():
    # Redis is part of the test set-up (.ci/run starts it): no Redis is a failure here.
    redis.Redis.from_url(LOCATION).ping()
    cache = RedisCache(LOCATION, {"KEY_PREFIX": "clarion-test-reused-client"})
    yield cache
    cache.delete_many(["a", "b", "n", "t0", "t1", "t2", "t3"])


def test_one_client_serves_every_call_and_the_cache_still_works(redis_cache):
    first = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client("any") is first
    redis_cache.set("a", (1, b"bytes"))
    assert redis_cache.add("b", 2) and not redis_cache.add("b", 3)
    assert redis_cache.get_many(["a", "b", "missing"]) == {"a": (1, b"bytes"), "b": 2}
    redis_cache.set("n", 1)
    assert redis_cache.incr("n") == 2
    pipe = first.pipeline()
    pipe.get(redis_cache.make_and_validate_key("n"))
    assert pipe.execute() == [b"2"]


def test_the_shared_client_is_safe_across_threads(redis_cache):
    errors = []

    def work(i):
        try:
            for j in range(50):
                redis_cache.set(f"t{i}", j)
                assert redis_cache.get(f"t{i}") == j
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
