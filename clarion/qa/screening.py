"""Screening a question before a human looks at it.

Pure functions over text (no database) plus the reason codes moderators see. The
services combine these with rate limits, bans, near-duplicate groups and brigading
detection, all of which need the database or the cache.

Before anything compares text it is *folded* (``fold_text``): compatibility forms,
then each letter to its Unicode TR39 look-alike skeleton (a Cyrillic "а" or a Greek
"ο" becomes the Latin letter it imitates, using the confusables data of the
``confusable-homoglyphs`` package, with ``anyascii`` transliteration for the rest),
invisible characters and emoji dropped, runs of one letter squeezed, case dropped.

Topic grouping (``grouping.py``) compares ``content_terms``: the folded words less
stop words, Snowball-stemmed. docs/qa.md explains the choice and its figures.

``shingles`` / ``jaccard`` are the screen of the first release (4-character shingles
against a group's first question); ``grouping.shingle_group_for`` keeps it callable
as the benchmark's baseline.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer
from anyascii import anyascii
from confusable_homoglyphs import confusables
from django.utils.translation import gettext_lazy as _
from wordfreq import zipf_frequency

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


_RUN = re.compile(r"([a-z])\1{2,}")
_TOKEN = re.compile(r"[a-z0-9]+")
# Digits inside a word are letters in disguise ("l1ar", "c0rrupt").
_LEET = str.maketrans("0134578@$", "oieastbas")


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """One non-ASCII character as the ASCII it looks like ('' for invisible ones,
    ' ' for emoji and other symbols)."""
    category = unicodedata.category(ch)
    if category in ("Cf", "Cc", "Mn", "Me", "Cs", "Co", "Cn"):
        return ""  # zero-width joiners and spaces, variation selectors, combining marks
    if category[0] in ("Z",):
        return " "
    if category in ("So", "Sk", "Sm", "Sc"):
        return " "
    found = confusables.is_confusable(ch, greedy=True, preferred_aliases=["latin", "common"])
    if found:
        # Of the ASCII letters it imitates, the one of its own case: a Greek capital
        # iota is an "I" (the skeleton says "l", which it also resembles).
        options = [anyascii(glyph["c"]) for glyph in found[0]["homoglyphs"]]
        options = [o for o in options if len(o) == 1 and o.isalnum()]
        same_case = [o for o in options if o.isupper() == ch.isupper()]
        if same_case:
            return same_case[0]
        spelt = anyascii(ch)
        if len(spelt) == 1 and spelt.isalpha() and spelt.isupper() == ch.isupper():
            return spelt
        if options:
            return options[0]
    ascii_ = anyascii(ch)
    if ascii_.startswith(":") and ascii_.endswith(":"):
        return " "  # anyascii spells some symbols as :names:
    return ascii_


def fold_text(text: str) -> str:
    """The text as a reader sees it: look-alike letters as the Latin letters they imitate,
    invisible characters, emoji and punctuation gone, repeated letters squeezed
    ("liiiiar" → "liar"), lower case, single spaces. Used before every comparison."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = "".join(ch if ch.isascii() else _fold_char(ch) for ch in text)
    text = _RUN.sub(r"\1", text.lower())
    return " ".join(_TOKEN.findall(text))


# Words that say nothing about what a question is about: function words and the
# filler people (and paraphrase generators) wrap a question in.
STOP_WORDS = frozenset(
    """
    a about above actually after again against ah all also am an and any anyone are as
    ask asked asking at be because been before being below between both but by can
    could did do does doing done don dont down during each either else even ever every
    few for from further get gets getting go going gonna got had has have having he her
    here hers herself him himself his honest honestly how however i if im in into is
    isnt it its itself ive just kind know least let like ll many may maybe me might mine
    more most much must my myself need no nor not now of off oh ok okay on once one only
    or other our ours ourselves out over own please plz pls question questions quite
    rather re really right s said same say saying says see seem seems shall she should
    simply since so some someone something still such sure t tell than thank thanks that
    thats the their theirs them themselves then there these they thing things think this
    those though through to too truly u under until up upon us ve very via wanna want
    wants was wasnt we well were werent what whats when where whether which while who
    whom whose why will with wonder wondering won wont would wouldnt y yeah yes yet you
    youre your yours yourself yourselves
    """.split()
)
_stemmer = snowballstemmer.stemmer("english")
_DOUBLE = re.compile(r"([a-z])\1")


@lru_cache(maxsize=65536)
def _term(word: str) -> str:
    stem = _stemmer.stemWord(word)
    return _DOUBLE.sub(r"\1", stem)


@lru_cache(maxsize=65536)
def word_rarity(word: str) -> float:
    """How unusual a word is in written English, from 0.4 (everyday: "deal", "answer")
    to 2 (names, places, jargon: "grimsby", "trawlermen"), after the word frequencies
    of the ``wordfreq`` package."""
    if not word.isalpha():
        return 1.0
    zipf = zipf_frequency(word, "en", wordlist="small")
    return min(2.0, max(0.4, (7.0 - zipf) / 3.0))


# Rarity of each term, from the commonest word seen to stem to it in this process.
_term_rarity: dict[str, float] = {}


def term_rarity(term: str) -> float:
    """The rarity of a term (see ``word_rarity``). A term no question of this process
    has produced yet is looked up with the endings stemming cut."""
    known = _term_rarity.get(term)
    if known is not None:
        return known
    if not term.isalpha():
        return 1.0
    variants = {term, term + "e", term + "s", term + "y", term + "ing"}
    if term.endswith("i"):
        variants.add(term[:-1] + "y")
    return min(word_rarity(v) for v in variants)


def content_terms(text: str) -> list[str]:
    """What a question is about: its folded words less stop words, stemmed (Snowball,
    English) with double letters squeezed, so "betrayed", "BETRAYING" and "bеtrayyed"
    (Cyrillic е) are one term. Sorted, without repeats. Numbers of two or more digits
    are terms; single letters and digits are not."""
    terms = set()
    for word in fold_text(text).split():
        if not word.isdigit():
            word = word.translate(_LEET) if not word.isalpha() else word
            if not word.isalpha():
                continue
        if len(word) < 2 or word in STOP_WORDS:
            continue
        term = _term(word)
        terms.add(term)
        rarity = word_rarity(word)
        if rarity < _term_rarity.get(term, 9.0) and len(_term_rarity) < 500_000:
            _term_rarity[term] = rarity
    return sorted(terms)


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
    """One regex for all banned phrases, matched on word boundaries, ignoring case; each
    phrase also in its folded form, to match folded text (look-alikes undone)."""
    wanted = set()
    for p in phrases:
        wanted.update(form for form in (p.strip().lower(), fold_text(p)) if form)
    cleaned = sorted(wanted, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in cleaned)
    return re.compile(rf"(?<!\w)({body})(?!\w)", re.IGNORECASE)


def text_reasons(text: str, *, banned: re.Pattern[str] | None) -> list[str]:
    """Reasons found in the text alone."""
    reasons = []
    if banned is not None and (
        banned.search(text) or banned.search(normalise_text(text)) or banned.search(fold_text(text))
    ):
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
