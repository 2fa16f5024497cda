"""Reading settings from the environment, through environs.

Each reader takes the variable's name and its default, and answers a bad value with
ImproperlyConfigured whose message is one line an operator can act on: the variable,
what it must be, and what it is (``CLARION_ACTION_IP_LIMIT must be a whole number,
0 or more, not 'ten'.``). ``clarion`` prints that line instead of a traceback
(clarion/cli.py).

Typed values (numbers, switches, URLs) treat an empty variable as unset, so ``X=`` in
an env file means "the default"; text keeps an empty value as given.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any, overload

import marshmallow
from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvError

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class _Switch(marshmallow.fields.Boolean):
    """On/off as Clarion has always read it: any case, surrounding spaces ignored."""

    truthy = set(TRUE_WORDS)
    falsy = set(FALSE_WORDS)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


_env = Env(eager=True, expand_vars=False)
_env.add_parser_from_field("switch", _Switch)
# Every variable asked for, set or not: README.md's table is checked against it.
_names_read: set[str] = set()


def names_read() -> frozenset[str]:
    """The variables the settings have asked for so far."""
    return frozenset(_names_read)


def _one_of(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _bad(name: str, expected: str, shown: str | None = None) -> ImproperlyConfigured:
    if shown is None:
        shown = repr(os.environ.get(name, ""))
    return ImproperlyConfigured(f"{name} must be {expected}, not {shown}.")


def _is_unset(name: str) -> bool:
    _names_read.add(name)
    return os.environ.get(name, "").strip() == ""


def text(name: str, default: str = "") -> str:
    """The variable as given (an empty value stays empty), or ``default`` if unset."""
    _names_read.add(name)
    return _env.str(name, default)


def text_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list; blank items are dropped."""
    _names_read.add(name)
    raw = _env.str(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def switch(name: str, default: bool = False) -> bool:
    """On (1, true, yes, on) or off (0, false, no, off), in any case."""
    if _is_unset(name):
        return default
    try:
        return bool(_env.switch(name))
    except EnvError:
        raise _bad(name, "on or off (1, true, yes, on / 0, false, no, off)") from None


@overload
def integer(name: str, default: int, *, minimum: int = 0, unit: str = "") -> int: ...
@overload
def integer(name: str, default: None, *, minimum: int = 0, unit: str = "") -> int | None: ...
def integer(name: str, default: int | None, *, minimum: int = 0, unit: str = "") -> int | None:
    """A whole number no smaller than ``minimum``; ``unit`` ("days") goes in the message."""
    expected = f"a whole number{f' of {unit}' if unit else ''}, {minimum} or more"
    if _is_unset(name):
        return default
    try:
        value = _env.int(name)
    except EnvError:
        raise _bad(name, expected) from None
    if value is None or value < minimum:
        raise _bad(name, expected)
    return value


def number(name: str, default: float, *, minimum: float = 0) -> float:
    """A number, decimals allowed, no smaller than ``minimum``."""
    expected = f"a number, {minimum:g} or more"
    if _is_unset(name):
        return default
    try:
        value = _env.float(name)
    except EnvError:
        raise _bad(name, expected) from None
    if value is None or not value >= minimum or value == float("inf"):
        raise _bad(name, expected)
    return value


def path(name: str, default: Path) -> Path:
    if _is_unset(name):
        return default
    return Path(_env.path(name))


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    _names_read.add(name)
    value = _env.str(name, default)
    if value not in choices:
        raise _bad(name, _one_of(list(choices)))
    return value


def _without_password(url: str) -> str:
    """``url`` with any password replaced, so an error message leaks no secret."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "a value that is not a URL"


def database(name: str) -> dict[str, Any] | None:
    """A database URL parsed by dj-database-url (None when unset)."""
    if _is_unset(name):
        return None
    expected = (
        "a database URL such as postgres://user:password@host:5432/clarion "
        "or sqlite:////path/to/clarion.sqlite3"
    )
    shown = repr(_without_password(os.environ[name]))
    try:
        config = _env.dj_db_url(name, conn_max_age=60)
    except EnvError:
        raise _bad(name, expected, shown) from None
    if not config or not config.get("ENGINE"):
        raise _bad(name, expected, shown)
    return dict(config)


def url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    """A URL with one of ``schemes`` and a host (a unix socket URL: a path instead).

    Checked by splitting rather than by a strict validator, so container host names
    with underscores (``redis_1``) still pass."""
    if _is_unset(name):
        return default
    raw = _env.str(name).strip()
    expected = "a URL starting " + _one_of([f"{scheme}://" for scheme in schemes])
    try:
        parts = urllib.parse.urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise _bad(name, expected, repr(_without_password(raw))) from None
    has_place = bool(parts.path) if parts.scheme == "unix" else bool(parts.hostname)
    if parts.scheme not in schemes or "://" not in raw or not has_place:
        raise _bad(name, expected, repr(_without_password(raw)))
    return raw


def prefixed(prefix: str) -> dict[str, str]:
    """Every variable named ``<prefix>X``, as ``{X: value}``."""
    return {
        key[len(prefix) :]: _env.str(key) for key in sorted(os.environ) if key.startswith(prefix)
    }
