"""Reading JSON a client sent, with a bound on how deeply it nests.

``json.loads`` recurses once per level of nesting, so a body of ten thousand ``[``
would exhaust the stack; code that walks the result afterwards (``has_nul``, JSON
fields) recurses as well. ``load_json`` measures the nesting first, in a pass made of
C-level steps (regular expressions, ``bytes.translate``, ``itertools``) that costs a
few milliseconds for the largest body Django accepts, and refuses anything deeper than
``MAX_DEPTH`` with a 400 that says so. No real payload comes close: an OSDI person with
addresses and custom fields is five levels deep.
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate, count, repeat
from typing import Any

from django.utils.translation import gettext as _

from .errors import ApiError

# Every container up to this depth is also inspected by views.has_nul.
MAX_DEPTH = 20

_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_OPENS = bytes.maketrans(b"[]", b"\x01\x00")


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest (0 for a bare value).

    For text that is not valid JSON the answer covers the part before the first
    mistake, which is as far as ``json.loads`` reads before it gives up.
    """
    # Escapes go first, so an escaped quote cannot end a string; then the strings,
    # whose brackets are only text; an unterminated string runs to the end.
    text = _STRING.sub("", _ESCAPE.sub("", text))
    # Only the brackets are left, all as [ and ]: depth does not depend on the kind.
    brackets = text.split('"', 1)[0].encode("utf-8", "surrogatepass")
    brackets = brackets.translate(_AS_SQUARE, _NOT_BRACKETS)
    # Quick answer for well-nested brackets: each pass removes every empty pair, so
    # the passes needed to remove them all are the depth.
    remaining = brackets
    for depth in range(MAX_DEPTH + 1):
        if not remaining:
            return depth
        remaining = remaining.replace(b"[]", b"")
    # Deeper, or brackets that do not pair up: the running count of open brackets.
    # Depth after the i-th bracket (1-based) = opened - closed = 2 * opened - i.
    opens = brackets.translate(_OPENS)
    return max(
        map(operator.sub, map(operator.mul, accumulate(opens), repeat(2)), count(1)),
        default=0,
    )


def load_json(raw: bytes | str, *, what: str | None = None) -> Any:
    """``raw`` parsed as JSON; ApiError(400) naming the problem when it is not JSON or
    nests deeper than MAX_DEPTH. ``what`` names the text in the message (by default
    "The request body")."""
    what = what or _("The request body")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        except (UnicodeDecodeError, LookupError):
            raise ApiError(400, _("%(what)s is not valid JSON.") % {"what": what}) from None
    if json_depth(raw) > MAX_DEPTH:
        raise ApiError(
            400,
            _("%(what)s nests objects or lists more than %(max)s deep.")
            % {"what": what, "max": MAX_DEPTH},
        )
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, _("%(what)s is not valid JSON.") % {"what": what}) from None
