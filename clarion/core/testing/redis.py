"""Test helper: the Redis commands a cache sends."""

from __future__ import annotations


def commands_sent(cache, monkeypatch) -> list[str]:
    """A list that fills with the name of each command ``cache`` (a
    ``core.cache.RedisCache``) sends from now on, through its shared client."""
    client = cache._cache.get_client(write=True)
    sent: list[str] = []
    real = client.execute_command

    def spy(*args, **options):
        sent.append(args[0])
        return real(*args, **options)

    monkeypatch.setattr(client, "execute_command", spy)
    return sent
