"""The OData subset Action Network accepts in ``filter=``, parsed into a Q object.

Grammar (``and`` binds tighter than ``or``; parentheses group)::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "(" expr ")" | FIELD OP VALUE
    OP     := eq | ne | gt | ge | lt | le
    VALUE  := 'single-quoted text' ('' is a quote inside) | bare word

Values only ever become query parameters; field names come from a fixed table.
Limits keep every request cheap: MAX_LENGTH characters, MAX_CLAUSES conditions and
brackets at most MAX_DEPTH deep, each refused with its own message.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from clarion.areas.postcodes import postcode_or_none

OPERATORS = {"eq": "exact", "ne": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
MAX_LENGTH = 2000
MAX_CLAUSES = 20
# Brackets nested deeper than this are refused before parsing: the parser recurses
# three calls per bracket, so without this ~300 brackets would exhaust the stack.
MAX_DEPTH = 32


class FilterError(ValueError):
    pass


def filter_datetime(value: str) -> datetime.datetime:
    """A filter value as an aware datetime: a date (midnight UTC) or a datetime, naive
    ones read as UTC; anything else raises ``FilterError``. For the converter slot of
    a field table (``PEOPLE_FIELDS`` and the other apps' tables)."""
    try:
        parsed = parse_datetime(value)
        day = parse_date(value) if parsed is None else None
    except ValueError:  # well-formed but impossible, such as month 13
        parsed = day = None
    if parsed is None:
        if day is None:
            raise FilterError(
                _("%(value)s is not a date like 2014-03-25 or 2014-03-25T10:00:00Z.")
                % {"value": value}
            )
        parsed = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def filter_text(value: str) -> str:
    """A text filter value without surrounding spaces (field-table converter)."""
    return value.strip()


def _email(value: str) -> str:
    return value.strip().lower()


def _postcode(value: str) -> str:
    return postcode_or_none(value) or value.strip().upper()


# OSDI field -> (model field, converter, case-insensitive equality)
PEOPLE_FIELDS: dict[str, tuple[str, Callable[[str], Any], bool]] = {
    "modified_date": ("modified_at", filter_datetime, False),
    "created_date": ("created_at", filter_datetime, False),
    "email_address": ("email", _email, False),
    "given_name": ("first_name", filter_text, True),
    "family_name": ("last_name", filter_text, True),
    "postal_code": ("postcode", _postcode, False),
}

_TOKEN = re.compile(r"\s*(?:(\()|(\))|'((?:[^']|'')*)'|([A-Za-z0-9_.:+\-@]+))")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(
                _("The filter could not be read near: %(text)s") % {"text": text[pos : pos + 20]}
            )
        if match.group(1):
            tokens.append(("(", "("))
        elif match.group(2):
            tokens.append((")", ")"))
        elif match.group(3) is not None:
            tokens.append(("value", match.group(3).replace("''", "'")))
        else:
            tokens.append(("word", match.group(4)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _check_brackets(tokens: list[tuple[str, str]]) -> None:
    """Refuse a closing bracket that closes nothing and nesting deeper than MAX_DEPTH,
    in one flat pass, so the recursive parser never goes deeper than MAX_DEPTH."""
    depth = 0
    for kind, _value in tokens:
        if kind == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise FilterError(
                    _("The filter nests brackets more than %(max)s deep.") % {"max": MAX_DEPTH}
                )
        elif kind == ")":
            depth -= 1
            if depth < 0:
                raise FilterError(_("The filter closes a bracket it never opened."))
    # A bracket left open is reported by the parser, which says where the filter ended.


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], fields):
        self.tokens, self.pos, self.fields, self.clauses = tokens, 0, fields, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError(_("The filter ends too soon."))
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def expr(self) -> Q:
        q = self.term()
        while self.keyword("or"):
            q |= self.term()
        return q

    def term(self) -> Q:
        q = self.factor()
        while self.keyword("and"):
            q &= self.factor()
        return q

    def factor(self) -> Q:
        kind, value = self.take()
        if kind == "(":
            q = self.expr()
            if self.take()[0] != ")":
                raise FilterError(_("A bracket in the filter is not closed."))
            return q
        if kind != "word" or value not in self.fields:
            raise FilterError(
                _("You cannot filter on %(field)s. Fields you can filter on: %(fields)s.")
                % {"field": value, "fields": ", ".join(self.fields)}
            )
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise FilterError(
                _("The filter has too many conditions: it can have at most %(max)s.")
                % {"max": MAX_CLAUSES}
            )
        op_kind, op = self.take()
        if op_kind != "word" or op.lower() not in OPERATORS:
            raise FilterError(
                _("Unknown operator %(op)s; use eq, ne, gt, ge, lt or le.") % {"op": op}
            )
        op = op.lower()
        raw_kind, raw = self.take()
        if raw_kind not in ("value", "word"):
            raise FilterError(_("%(field)s %(op)s needs a value.") % {"field": value, "op": op})
        column, convert, insensitive = self.fields[value]
        lookup = OPERATORS[op]
        if insensitive and lookup == "exact":
            lookup = "iexact"
        q = Q(**{f"{column}__{lookup}": convert(raw)})
        return ~q if op == "ne" else q


def parse_filter(text: str, fields=PEOPLE_FIELDS) -> Q:
    """Parse ``text`` into a Q over the model fields in ``fields``; raise FilterError
    with a message fit to show the API client."""
    if len(text) > MAX_LENGTH:
        raise FilterError(
            _("The filter is too long: it can be at most %(max)s characters.") % {"max": MAX_LENGTH}
        )
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise FilterError(_("The filter may not contain control characters."))
    tokens = _tokens(text)
    if not tokens:
        return Q()
    _check_brackets(tokens)
    parser = _Parser(tokens, fields)
    q = parser.expr()
    if parser.peek() is not None:
        raise FilterError(
            _("Unexpected %(text)s in the filter; join conditions with and / or.")
            % {"text": parser.peek()[1]}
        )
    return q
