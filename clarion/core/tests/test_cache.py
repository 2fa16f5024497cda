"""The Redis cache backend reuses one client per connection pool."""

from __future__ import annotations

import threading

import pytest
import redis

from clarion.core.cache import RedisCache
from clarion.core.testing.redis import commands_sent

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


def test_incr_keeps_the_expiry_and_never_makes_a_key(redis_cache):
    raw = redis.Redis.from_url(LOCATION)
    key = redis_cache.make_and_validate_key("n")
    redis_cache.set("n", 5, timeout=60)
    assert redis_cache.incr("n", 3) == 8
    assert redis_cache.get("n") == 8
    assert 0 < raw.ttl(key) <= 60  # the key's expiry is kept
    with pytest.raises(ValueError):
        redis_cache.incr("a")
    assert not raw.exists(redis_cache.make_and_validate_key("a"))  # not created


def test_incr_is_one_atomic_command(redis_cache, monkeypatch):
    """Django's incr asks EXISTS and then INCRBY: a key expiring between the two
    came back from INCRBY with no expiry at all. Here the check and the addition are
    one server-side script, so the client sends nothing else."""
    sent = commands_sent(redis_cache, monkeypatch)
    redis_cache.set("n", 1, timeout=60)
    sent.clear()
    assert redis_cache.incr("n") == 2
    with pytest.raises(ValueError):
        redis_cache.incr("b")
    # The script is loaded once per server (SCRIPT LOAD after a first NOSCRIPT).
    assert [c for c in sent if c != "SCRIPT LOAD"] == ["EVALSHA", "EVALSHA"] or [
        c for c in sent if c != "SCRIPT LOAD"
    ] == ["EVALSHA", "EVALSHA", "EVALSHA"]
