"""How many people each area holds, for the staff area pages.

Areas sit below people, so the people app registers the counting function from its
AppConfig.ready() (``people.selectors.people_per_area``); until it does, areas show
no one.
"""

from __future__ import annotations

from collections.abc import Callable

# counter(user, within) -> {area_id or None: number of people the user may reach}
_counter: list[Callable] = []


def people_per_area_register(counter: Callable) -> None:
    _counter[:] = [counter]


def people_per_area(user, within=None) -> dict[int | None, int]:
    return _counter[0](user, within) if _counter else {}
