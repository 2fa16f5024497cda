"""Screening a question before a human looks at it.

Pure functions over text (no database) plus the reason codes moderators see. The
services combine these with rate limits, bans, near-duplicate groups and brigading
detection, all of which need the database or the cache.

Near duplicates: text is normalised (case, accents, punctuation, spacing, digits),
cut into overlapping 4-character shingles, each hashed to a 32-bit integer (crc32,
stable across processes), and compared by Jaccard similarity. A question of 280
characters has at most ~280 shingles, so comparing it against a few hundred recent
groups costs well under a millisecond each.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

SHINGLE = 4
DUPLICATE_THRESHOLD = 0.55

# Reason codes stored on a question, with the words moderators read.
REASONS = {
    "banned_word": _("Contains a banned word or phrase"),
    "link": _("Contains a link"),
    "capitals": _("Mostly capital letters"),
    "repetition": _("Repeated characters or words"),
    "rate_person": _("This person asked many questions in a short time"),
    "rate_ip": _("Many questions from one network address"),
    "rate_domain": _("Many questions from one email domain"),
    "duplicate": _("Says the same as another question"),
    "wave": _("Part of a coordinated wave of similar questions"),
    "banned": _("Asker is banned"),
}

_LINK = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]{2,}\.(com|net|org|co|uk|io|info|ru|xyz|ly|me|tv|link|site|online)\b)",
    re.IGNORECASE,
)
_REPEAT_CHAR = re.compile(r"(.)\1{5,}")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Lower case, accents stripped, digits and punctuation dropped, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(
        ch if ch.isalpha() or ch.isspace() else " "
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    return " ".join(letters.split())


def shingles(text: str) -> list[int]:
    norm = normalise_text(text)
    if len(norm) <= SHINGLE:
        return [zlib.crc32(norm.encode())] if norm else []
    return sorted(
        {zlib.crc32(norm[i : i + SHINGLE].encode()) for i in range(len(norm) - SHINGLE + 1)}
    )


def jaccard(a: Iterable[int], b: Iterable[int]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for all banned phrases, matched on word boundaries, ignoring case."""
    cleaned = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in cleaned)
    return re.compile(rf"(?<!\w)({body})(?!\w)", re.IGNORECASE)


def text_reasons(text: str, *, banned: re.Pattern[str] | None) -> list[str]:
    """Reasons found in the text alone."""
    reasons = []
    if banned is not None and (banned.search(text) or banned.search(normalise_text(text))):
        reasons.append("banned_word")
    if _LINK.search(text):
        reasons.append("link")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        reasons.append("capitals")
    words = [w.lower() for w in _WORD.findall(text)]
    repeated_word = any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2))
    if _REPEAT_CHAR.search(text) or repeated_word or "!!!" in text or "???" in text:
        reasons.append("repetition")
    return reasons


def reason_labels(codes: Iterable[str]) -> list[str]:
    return [str(REASONS.get(code, code)) for code in codes]
