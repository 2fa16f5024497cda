"""``var/demo.env``: the settings ``make run`` started the demo with, for the
``clarion`` command.

``make run`` writes the file (the ``demo-env`` target in the Makefile) so that the
README's commands — ``.venv/bin/clarion import_people file.csv`` and the rest — reach
the demo as it was left, without the newcomer having to know about ``CLARION_DEMO``.
Kept out of ``clarion.settings`` on purpose: only the command line reads it, never a
web process started some other way.
"""

from __future__ import annotations

import os
from pathlib import Path

# The first line `make run` writes; a file without it is ignored.
DEMO_ENV_MARK = "# clarion demo settings"


def demo_env_path() -> Path:
    var = os.environ.get("CLARION_VAR_DIR") or Path(__file__).resolve().parent.parent / "var"
    return Path(var) / "demo.env"


def demo_env_load() -> bool:
    """Put the demo's settings from ``var/demo.env`` into the environment.

    Only when no secret key is configured and ``CLARION_DEMO`` is not set either way:
    an install with its own key, or one that says ``CLARION_DEMO=0``, is never turned
    into a demo, so production still refuses to start without a key. Variables already
    in the environment win over the file. Returns True when the file was read.
    """
    if os.environ.get("CLARION_SECRET_KEY") or "CLARION_DEMO" in os.environ:
        return False
    try:
        lines = demo_env_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    if not lines or lines[0].strip() != DEMO_ENV_MARK:
        return False
    values = {}
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    if values.get("CLARION_DEMO") != "1":
        return False
    for name, value in values.items():
        if name.startswith("CLARION_"):
            os.environ.setdefault(name, value)
    return True
