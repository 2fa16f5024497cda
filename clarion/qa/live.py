"""The audience's live feed, built once per change and served from the cache.

Every change the public can see (approval, vote, edit, answer, "answering now",
session status) bumps a version counter in the shared cache after its transaction
commits. A poll reads the counter and the last built snapshot in ONE cache round trip
(``get_many``): if the snapshot's version is current it is served as stored bytes (or
304 when the client's ETag matches); otherwise one poller rebuilds it (guarded by a
short ``cache.add`` lock) while the others keep serving the previous snapshot. No
process keeps state of its own, so any number of web processes share the work.

A snapshot older than ``MAX_AGE`` seconds is rebuilt even without a bump: the
database cache's ``incr`` is not atomic, so two simultaneous bumps can count once,
and this bounds how long such a lost bump could leave the feed stale.
"""

from __future__ import annotations

import hashlib
import json
import time

from django.core.cache import cache
from django.db import transaction

MAX_AGE = 20
LOCK_SECONDS = 5
# Votes arrive many times a second in a big session; they mark the feed dirty instead
# of bumping it, and a poll folds them in at most once per VOTE_COALESCE seconds, so
# thousands of clients re-download the list every couple of seconds, not per vote.
VOTE_COALESCE = 2.0


def _slug_key(slug: str) -> str:
    return hashlib.sha1(slug.encode()).hexdigest()[:20]


def version_key(slug: str) -> str:
    return f"qa:live:v:{_slug_key(slug)}"


def snapshot_key(slug: str) -> str:
    return f"qa:live:s:{_slug_key(slug)}"


def dirty_key(slug: str) -> str:
    return f"qa:live:d:{_slug_key(slug)}"


def queue_key(session_id: int) -> str:
    return f"qa:queue:v:{session_id}"


def _incr(key: str) -> int:
    # A missing counter restarts from the clock, so a version (and ETag) is never
    # reused after the cache forgets the key.
    cache.add(key, time.time_ns() // 1000, timeout=None)
    try:
        return int(cache.incr(key))
    except ValueError:
        value = time.time_ns() // 1000
        cache.set(key, value, timeout=None)
        return value


def live_bump(*, slug: str) -> None:
    """Mark the public feed of session ``slug`` changed, once the transaction commits."""
    transaction.on_commit(lambda: _incr(version_key(slug)))


def live_touch(*, slug: str) -> None:
    """Mark the feed changed by a vote (folded in within VOTE_COALESCE seconds)."""
    transaction.on_commit(lambda: cache.set(dirty_key(slug), time.time(), timeout=3600))


def queue_bump(*, session_id: int) -> None:
    """Mark the moderators' queue of a session changed, once the transaction commits."""
    transaction.on_commit(lambda: _incr(queue_key(session_id)))


def queue_version(session_id: int) -> int:
    key = queue_key(session_id)
    value = cache.get(key)
    return int(value) if value is not None else _incr(key)


def etag_for(slug: str, version: int) -> str:
    return f'"{_slug_key(slug)[:8]}-{version}"'


def live_snapshot(*, slug: str, build) -> tuple[str, bytes] | None:
    """(etag, JSON bytes) of the current feed; ``build(slug)`` returns a dict, or None
    when there is no such public session (then this returns None)."""
    vkey, skey, dkey = version_key(slug), snapshot_key(slug), dirty_key(slug)
    found = cache.get_many([vkey, skey, dkey])
    version = found.get(vkey)
    snap = found.get(skey)
    dirty = found.get(dkey)
    now = time.time()
    if version is None:
        version = _incr(vkey)
    if snap is not None and snap[0] == version:
        votes_pending = dirty is not None and dirty >= snap[3]
        if now - snap[3] < MAX_AGE and not (votes_pending and now - snap[3] >= VOTE_COALESCE):
            return snap[1], snap[2]
        if cache.add(f"qa:live:fold:{_slug_key(slug)}:{version}", 1, timeout=LOCK_SECONDS):
            version = _incr(vkey)
        else:
            return snap[1], snap[2]
    lock = f"qa:live:lock:{_slug_key(slug)}:{version}"
    if snap is not None and not cache.add(lock, 1, timeout=LOCK_SECONDS):
        # Someone else is building this version: serve the previous one meanwhile.
        return snap[1], snap[2]
    data = build(slug)
    if data is None:
        cache.delete(lock)
        return None
    data["version"] = version
    # Escape HTML-significant characters too (as json_script does): the feed is data,
    # and no browser sniffing it as markup can find a tag in it.
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    body = text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026").encode()
    etag = etag_for(slug, version)
    cache.set(skey, (version, etag, body, now), timeout=3600)
    cache.delete(lock)
    return etag, body
