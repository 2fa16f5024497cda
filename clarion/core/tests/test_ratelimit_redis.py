"""Rate limits on Redis: every hit one atomic increment, all of a request's hits in one
round trip, and the window fixed at its first hit."""

from __future__ import annotations

import threading

import pytest
import redis
from django.test import override_settings

LOCATION = "redis://127.0.0.1:6379/12"
ON_REDIS = {
    "CACHES": {
        "default": {
            "BACKEND": "clarion.core.cache.RedisCache",
            "LOCATION": LOCATION,
            "KEY_PREFIX": "clarion-test-ratelimit",
        }
    }
}


@pytest.fixture
def on_redis():
    # Redis is part of the test set-up (.ci/run starts it): no Redis is a failure here.
    raw = redis.Redis.from_url(LOCATION)
    raw.ping()
    with override_settings(**ON_REDIS):
        from django.core.cache import cache

        from clarion.core.faults import redis_breaker

        redis_breaker.reset()
        yield cache, raw
        for key in raw.scan_iter("clarion-test-ratelimit:*"):
            raw.delete(key)


def _ttl(cache, raw, scope, ident):
    from clarion.core.ratelimit import _key  # noqa: PLC2701 - the test reads the key it made

    return raw.ttl(cache.make_and_validate_key(_key(scope, ident)))


def test_hits_count_and_the_window_starts_at_the_first_hit(on_redis):
    from clarion.core.ratelimit import ratelimit_count, ratelimit_hit, ratelimit_reset

    cache, raw = on_redis
    assert [ratelimit_hit(scope="t", ident="a", window=600) for _ in range(3)] == [1, 2, 3]
    assert ratelimit_count(scope="t", ident="a") == 3
    assert 590 <= _ttl(cache, raw, "t", "a") <= 600
    # A later hit with a longer window does not move the window's end.
    ratelimit_hit(scope="t", ident="a", window=10_000)
    assert _ttl(cache, raw, "t", "a") <= 600
    ratelimit_reset(scope="t", ident="a")
    assert ratelimit_count(scope="t", ident="a") == 0
    assert ratelimit_hit(scope="t", ident="a", window=60) == 1


def test_a_counter_left_without_an_expiry_gets_its_window(on_redis):
    from clarion.core.ratelimit import _key, ratelimit_hit  # noqa: PLC2701

    cache, raw = on_redis
    raw.set(cache.make_and_validate_key(_key("t", "stuck")), 5)  # no expiry
    assert ratelimit_hit(scope="t", ident="stuck", window=60) == 6
    assert 0 < _ttl(cache, raw, "t", "stuck") <= 60


def test_all_of_a_requests_hits_go_in_one_round_trip(on_redis, monkeypatch):
    from clarion.core.ratelimit import ratelimit_hits

    cache, _raw = on_redis
    ratelimit_hits([("warm", "x", 60)])  # loads the script once
    client = cache._cache.get_client(write=True)
    calls = []
    original = client.execute_command
    monkeypatch.setattr(
        client, "execute_command", lambda *a, **k: calls.append(a[0]) or original(*a, **k)
    )
    assert ratelimit_hits([("ip", "203.0.113.9", 600), ("email", "a@example.net", 3600)]) == [
        1,
        1,
    ]
    assert ratelimit_hits([("ip", "203.0.113.9", 600), ("email", "b@example.net", 3600)]) == [
        2,
        1,
    ]
    assert calls == ["EVALSHA", "EVALSHA"]


def test_concurrent_hits_all_count(on_redis):
    from clarion.core.ratelimit import ratelimit_count, ratelimit_hit

    def work():
        for _ in range(50):
            ratelimit_hit(scope="t", ident="busy", window=600)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ratelimit_count(scope="t", ident="busy") == 200
