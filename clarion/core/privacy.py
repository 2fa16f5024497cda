"""Personal-data registry: subject access, erasure and merging (DESIGN.md invariant 7).

Every app that stores something about a person registers, once, from its
``AppConfig.ready()``::

    from clarion.core import privacy

    class DonationsConfig(AppConfig):
        def ready(self):
            from . import privacy as donations_privacy  # noqa: F401  (registers)

    # donations/privacy.py
    privacy.register(
        "donations",
        export=lambda person: {"donations": [...]},      # JSON-serialisable dict
        erase=lambda person: Donation.objects.filter(person=person).delete(),
        merge=lambda survivor, duplicate: Donation.objects.filter(
            person=duplicate).update(person=survivor),
    )

- ``export(person) -> dict``: everything the app holds about ``person``; it lands
  under the app's name in the subject-access download.
- ``erase(person) -> None``: delete (or irreversibly anonymise) that data. Called
  inside the erasure transaction, before the person row itself is deleted, so rows
  that point at the person can still be found. Must not raise for a person the app
  knows nothing about.
- ``merge(survivor, duplicate) -> None`` (optional): re-point the app's rows from
  ``duplicate`` to ``survivor``. Called inside ``people.services.person_merge``'s
  transaction, with both person rows locked, before the duplicate is deleted. After
  the hooks, ``person_merge`` re-points every row still holding a foreign key to the
  duplicate; if that breaks a unique constraint the whole merge is refused. So a hook
  is needed only where two people's rows may clash (one RSVP per person per event):
  it moves what the survivor lacks and deletes or combines the rest.

Registration is per process and idempotent (registering a name again replaces it),
so it is safe under autoreload and in tests. ``unregister`` exists for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ExportFn = Callable[[Any], dict[str, Any]]
EraseFn = Callable[[Any], None]
MergeFn = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Registration:
    name: str
    export: ExportFn
    erase: EraseFn
    merge: MergeFn | None = None


_registry: dict[str, Registration] = {}


def register(name: str, *, export: ExportFn, erase: EraseFn, merge: MergeFn | None = None) -> None:
    """Declare how app ``name`` exports, erases and merges a person's data."""
    _registry[name] = Registration(name=name, export=export, erase=erase, merge=merge)


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registrations() -> list[Registration]:
    """Registered apps, in registration order (people's own data registers first)."""
    return list(_registry.values())


def export_person(person) -> dict[str, Any]:
    """Everything every app holds about ``person``, keyed by app name."""
    return {reg.name: reg.export(person) for reg in registrations()}


def erase_person(person) -> list[str]:
    """Run every app's eraser on ``person``; returns the app names, in the order run.

    Apps other than people run first, so they can still follow rows that the people
    eraser would delete. The caller holds the transaction.
    """
    regs = registrations()
    ordered = [r for r in regs if r.name != "people"] + [r for r in regs if r.name == "people"]
    for reg in ordered:
        reg.erase(person)
    return [r.name for r in ordered]


def merge_person(survivor, duplicate) -> list[str]:
    """Run every app's merge hook (survivor, duplicate); returns the app names run."""
    ran = []
    for reg in registrations():
        if reg.merge is not None:
            reg.merge(survivor, duplicate)
            ran.append(reg.name)
    return ran
