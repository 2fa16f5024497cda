"""What apps above action pages plug into them, registered from their AppConfig.ready().

Action pages sit below donations and events (both build on pages), so they never import
those apps: the donations app registers how a donation page starts a gift and totals
its money, and the events app how the "come along in person" next step finds the
nearest event. Until an app registers, its part of a page is simply absent (no gift
can start, no event is suggested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DonationPlugin:
    # start(page=, person=, amount_pence=, currency=, recurring=, attribution=) -> an
    # object with ``redirect_url`` (the gateway's checkout).
    start: Callable[..., Any]
    # totals(page) -> {"count": int, "amount_pence": int}
    totals: Callable[[Any], dict]
    # gift(token, page) -> {"amount": "£25.00", "monthly": bool, "status": str,
    # "email": masked address} for the thank-you page's ?g= token, or None.
    gift: Callable[..., dict | None] | None = None


@dataclass(frozen=True)
class EventPlugin:
    # nearest(latitude=, longitude=, miles=) -> {"event": Event, "miles": float} | None
    nearest: Callable[..., Any]


_registered: dict[str, Any] = {}


def donations_register(plugin: DonationPlugin) -> None:
    _registered["donations"] = plugin


def events_register(plugin: EventPlugin) -> None:
    _registered["events"] = plugin


def donations() -> DonationPlugin | None:
    return _registered.get("donations")


def events() -> EventPlugin | None:
    return _registered.get("events")
