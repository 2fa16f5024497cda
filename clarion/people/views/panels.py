"""Panels that apps above people add to the staff person page.

``people`` cannot import the apps above it, so an app that has something to show about
a person (the engagement score) registers a panel from its ``AppConfig.ready()``::

    person_panel_register(PersonPanel(key="engagement",
                                      template="engagement/_person_panel.html",
                                      context=lambda request, person: {...} or None))

``context`` runs after ``access_person`` has checked the viewer's scope; it answers the
panel's template context, or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PersonPanel:
    key: str
    template: str
    context: Callable[[Any, Any], dict | None]
    order: int = 50


_PANELS: dict[str, PersonPanel] = {}


def person_panel_register(panel: PersonPanel) -> None:
    """Add (or replace, by key) a panel of the person page."""
    _PANELS[panel.key] = panel


def person_panels(request, person) -> list[dict]:
    """``{"template", "context"}`` for each registered panel with something to show."""
    shown = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(request, person)
        if context is not None:
            shown.append({"template": panel.template, "context": context})
    return shown
