"""Extra person fields: keys that apps above the API add to person documents, and
accept on writes (``members`` adds ``clarion:membership``).

The API sits below those apps, so it cannot import them; each registers an
``ExtraPersonField`` here from its ``AppConfig.ready()``. A field's ``read`` is called
once per page of people (never once per person), and its ``write`` runs inside the
transaction of the person write that carried it, so a refused value rolls the whole
write back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clarion.people.models import Person


@dataclass(frozen=True)
class ExtraPersonField:
    """``name`` is the document key (prefixed ``clarion:``).

    ``read(people)`` returns ``{person pk: value}`` for a batch of people in one or two
    queries whatever the batch's size; a person left out reads as ``None``.
    ``write(person=, value=, actor=, admin=, reason=)``, when given, stores a value a
    client sent: ``actor`` is the key's owner, ``admin`` whether the key belongs to an
    admin, ``reason`` what the audit log should say. It raises ``ApiError`` (or
    ``ValidationError``) to refuse, and must leave unchanged a value equal to the
    stored one, so a client may send a document back as it read it.
    ``schema`` is the value's OpenAPI schema.
    """

    name: str
    read: Callable[[Sequence[Person]], dict[int, Any]]
    write: Callable[..., None] | None = None
    schema: dict = field(default_factory=dict)


_fields: dict[str, ExtraPersonField] = {}


def register(extra: ExtraPersonField) -> None:
    """Add (or replace, so a second ``ready()`` is harmless) the field ``extra.name``."""
    if not extra.name.startswith("clarion:"):
        raise ValueError("Extra person fields are named clarion:<name>.")
    _fields[extra.name] = extra


def fields() -> list[ExtraPersonField]:
    return list(_fields.values())


def names() -> set[str]:
    return set(_fields)


def documents_extend(people: Sequence[Person], documents: Sequence[dict]) -> None:
    """Add every registered field to ``documents`` (one per person, in the same order):
    one ``read`` per field for the whole batch."""
    if not people:
        return
    for extra in _fields.values():
        values = extra.read(people)
        for person, document in zip(people, documents, strict=True):
            document[extra.name] = values.get(person.pk)


def values_pop(data: dict) -> dict[str, Any]:
    """Take the registered fields out of a person object ``data`` (changing it), so the
    rest is read as OSDI person fields."""
    return {name: data.pop(name) for name in list(data) if name in _fields}


def values_write(
    *, person: Person, values: dict[str, Any], actor, admin: bool, reason: str
) -> None:
    """Store ``values`` (from ``values_pop``) on ``person``; the caller holds the
    transaction. A field without a ``write`` is read only: sending it is ignored, as
    other read-only fields (``created_date``) are."""
    for name, value in values.items():
        extra = _fields.get(name)
        if extra is not None and extra.write is not None:
            extra.write(person=person, value=value, actor=actor, admin=admin, reason=reason)
