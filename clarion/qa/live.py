"""The audience's live feed, built once per change and served from the cache.

Every change the public can see (approval, vote, edit, answer, "answering now",
session status) bumps a version counter in the shared cache after its transaction
commits. A poll reads the counter and the small head of the last built snapshot
(version, ETag, build time) in ONE cache round trip (``get_many``): if the snapshot is
current, a client holding its ETag gets 304 without the body ever leaving the cache;
others get the stored bytes (gzipped once per version for clients that accept it) in
one more round trip. Otherwise one poller rebuilds it (guarded by a short
``cache.add`` lock) while the others keep serving the previous snapshot. No process
keeps state of its own, so any number of web processes share the work.

A snapshot older than ``MAX_AGE`` seconds is rebuilt even without a bump: the
database cache's ``incr`` is not atomic, so two simultaneous bumps can count once,
and this bounds how long such a lost bump could leave the feed stale.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

MAX_AGE = 20
LOCK_SECONDS = 5
# A version's bytes are kept a little longer than a head can stay current (MAX_AGE),
# so a poll that read the head just before a rebuild still finds them; each version
# has its own keys, and this bounds how many old ones the cache holds.
BODY_SECONDS = 30
# Votes arrive many times a second in a big session; they mark the feed dirty instead
# of bumping it, and a poll folds them in at most once per VOTE_COALESCE seconds, so
# thousands of clients re-download the list every couple of seconds, not per vote.
VOTE_COALESCE = 2.0


def _slug_key(slug: str) -> str:
    return hashlib.sha1(slug.encode()).hexdigest()[:20]


def version_key(slug: str) -> str:
    return f"qa:live:v:{_slug_key(slug)}"


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


def gzip_etag(etag: str) -> str:
    # A strong validator must differ between content codings of the same version.
    return etag[:-1] + '-gz"'


def head_key(slug: str) -> str:
    return f"qa:live:h:{_slug_key(slug)}"


def body_key(slug: str, version: int, *, gzipped: bool) -> str:
    return f"qa:live:{'z' if gzipped else 'b'}:{_slug_key(slug)}:{version}"


@dataclass(frozen=True)
class Feed:
    """What a poll gets: the ETag of the representation, and its bytes unless the
    client's copy is current (``body`` None: answer 304)."""

    etag: str
    body: bytes | None
    gzipped: bool = False


def _answer(
    slug: str,
    version: int,
    etag: str,
    if_none_match: str | None,
    gzip_ok: bool,
    bodies: dict | None = None,
) -> Feed | None:
    """The Feed for ``version``; None when its stored bytes are gone (rebuild then)."""
    if if_none_match is not None and if_none_match in (etag, gzip_etag(etag)):
        return Feed(if_none_match, None, if_none_match != etag)
    key = body_key(slug, version, gzipped=gzip_ok)
    body = bodies.get(key) if bodies is not None else cache.get(key)
    if body is None:
        return None
    return Feed(gzip_etag(etag) if gzip_ok else etag, body, gzip_ok)


def live_snapshot(
    *, slug: str, build, if_none_match: str | None = None, gzip_ok: bool = False
) -> Feed | None:
    """The current feed of session ``slug`` for one poll; ``build(slug)`` returns a
    dict, or None when there is no such public session (then this returns None).

    Cache round trips: a poll whose copy is current costs one (``get_many`` of the
    version, the small head and the dirty mark, never the body); a poll that needs
    the bytes costs one more. The body of each version is stored under its own key,
    plain and gzipped (compressed once per version, not per poll), so a head read
    before a rebuild still finds the bytes it names.
    """
    vkey, hkey, dkey = version_key(slug), head_key(slug), dirty_key(slug)
    found = cache.get_many([vkey, hkey, dkey])
    version = found.get(vkey)
    head = found.get(hkey)  # (version, etag, built at)
    dirty = found.get(dkey)
    now = time.time()
    if version is None:
        version = _incr(vkey)
    if head is not None and head[0] == version:
        votes_pending = dirty is not None and dirty >= head[2]
        if now - head[2] < MAX_AGE and not (votes_pending and now - head[2] >= VOTE_COALESCE):
            feed = _answer(slug, head[0], head[1], if_none_match, gzip_ok)
            if feed is not None:
                return feed
        elif cache.add(f"qa:live:fold:{_slug_key(slug)}:{version}", 1, timeout=LOCK_SECONDS):
            version = _incr(vkey)
        else:
            feed = _answer(slug, head[0], head[1], if_none_match, gzip_ok)
            if feed is not None:
                return feed
    lock = f"qa:live:lock:{_slug_key(slug)}:{version}"
    if head is not None and not cache.add(lock, 1, timeout=LOCK_SECONDS):
        # Someone else is building this version: serve the previous one meanwhile.
        feed = _answer(slug, head[0], head[1], if_none_match, gzip_ok)
        if feed is not None:
            return feed
    data = build(slug)
    if data is None:
        cache.delete(lock)
        return None
    data["version"] = version
    # Escape HTML-significant characters too (as json_script does): the feed is data,
    # and no browser sniffing it as markup can find a tag in it.
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    body = text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026").encode()
    bodies = {
        body_key(slug, version, gzipped=False): body,
        body_key(slug, version, gzipped=True): gzip.compress(body, compresslevel=6, mtime=0),
    }
    etag = etag_for(slug, version)
    # Bodies first, then the head that names them: a poll never sees a head whose
    # bytes are missing (short of eviction, which rebuilds).
    cache.set_many(bodies, timeout=BODY_SECONDS)
    cache.set(hkey, (version, etag, now), timeout=3600)
    cache.delete(lock)
    return _answer(slug, version, etag, if_none_match, gzip_ok, bodies)
