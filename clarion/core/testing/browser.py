"""Headless Chromium (Debian's package) driven by Playwright, for browser tests."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("CLARION_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def login(page, live_server_url: str, email: str, password: str) -> None:
    page.goto(f"{live_server_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


# axe-core, installed by `npm ci` (package.json), checks each page kind in the tests.
AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as loaded."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"][:3]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page, name: str) -> None:
    """The page as loaded: fits the viewport, axe clean, kept as a screenshot when
    CLARION_SCREENSHOTS names a folder."""
    shots = os.environ.get("CLARION_SCREENSHOTS")
    size = page.viewport_size
    if shots:
        page.screenshot(path=f"{shots}/{name}-{size['width']}.png", full_page=True)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= size["width"], f"{name} is {wide}px wide at {size['width']}px"
    assert axe_violations(page) == [], f"{name} at {size['width']}px"


def check_url(page, url: str, name: str) -> None:
    """``check_page`` for ``url`` at phone and desktop width."""
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto(url)
        check_page(page, name)


class Steps:
    """Counts what a task costs a person in the browser: page loads (top-level GET
    navigations, redirects included) and form submissions (top-level POSTs). Attach it
    after logging in; ``reset()`` between tasks; ``(loads, submits)`` is the figure
    the first-hour tests pin."""

    def __init__(self, page):
        self.page = page
        self.loads = 0
        self.submits = 0
        page.on("request", self._seen)

    def _seen(self, request) -> None:
        if not request.is_navigation_request() or request.frame != self.page.main_frame:
            return
        if request.method == "POST":
            self.submits += 1
        else:
            self.loads += 1

    def reset(self) -> None:
        self.loads = self.submits = 0

    @property
    def counts(self) -> tuple[int, int]:
        return (self.loads, self.submits)
