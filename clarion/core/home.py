"""The public home page's sections, registered by the apps that own them.

``core`` sits below the capabilities, so it cannot ask ``actions`` for its pages or
``events`` for its events. Each app registers a section in its ``AppConfig.ready()``
instead; the home page shows the sections in order. A section's ``items`` returns
plain rows (title, url, and optionally summary and meta), so one template renders
them all with the shared card component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HomeSection:
    key: str
    title: Any  # a lazy translation
    items: Callable[[], list[dict]]
    more_url: str = ""  # a URL name: the section's full list
    more_label: Any = ""
    empty: Any = ""
    order: int = 50


_SECTIONS: dict[str, HomeSection] = {}


def home_section_register(section: HomeSection) -> None:
    """Add (or replace, by key) a section of the public home page."""
    _SECTIONS[section.key] = section


def home_sections() -> list[tuple[HomeSection, list[dict]]]:
    """Every registered section with its rows, in order. Runs each section's query."""
    return [(s, s.items()) for s in sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))]
