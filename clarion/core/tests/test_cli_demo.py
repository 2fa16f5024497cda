"""After `make run`, the README's `clarion` commands work against the demo as it was
left (through the var/demo.env `make run` writes), and a production install without a
secret key still refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clarion.demo_env import DEMO_ENV_MARK

PROJECT = Path(__file__).resolve().parents[3]
CLARION = Path(sys.executable).parent / "clarion"
CSV = "First name,Email,Postcode\nAnn,ann@example.org,LS1 4AP\nBob,bob@example.org,\n"


def _env(var: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLARION_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(CLARION_VAR_DIR=str(var), **extra)
    return env


def _clarion(var: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLARION), *args],
        cwd=var.parent,
        env=_env(var, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def demo_var(tmp_path):
    """A var/ directory as `make run PORT=8811` leaves it: demo.env and a migrated
    SQLite database."""
    var = tmp_path / "var"
    subprocess.run(
        ["make", "-s", "demo-env", f"DEMO_ENV={var / 'demo.env'}", "PORT=8811"],
        cwd=PROJECT,
        env=_env(var),
        check=True,
        timeout=60,
    )
    assert (var / "demo.env").read_text().splitlines()[0] == DEMO_ENV_MARK
    migrated = _clarion(var, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    return var


def test_readme_commands_reach_the_demo_and_a_second_import_reports_unchanged(demo_var):
    people = demo_var.parent / "people.csv"
    people.write_text(CSV)
    first = _clarion(demo_var, "import_people", str(people))
    assert first.returncode == 0, first.stderr
    assert "created 2, updated 0, unchanged 0, rejected 0" in first.stdout
    again = _clarion(demo_var, "import_people", str(people))
    assert "created 0, updated 0, unchanged 2, rejected 0" in again.stdout

    people.write_text(CSV.replace("Bob,", "Robert,"))
    changed = _clarion(demo_var, "import_people", str(people))
    assert "created 0, updated 1, unchanged 1, rejected 0" in changed.stdout

    # Links made by commands (emails sent from a worker) follow the demo's port.
    site = _clarion(
        demo_var,
        "shell",
        "--no-imports",
        "-c",
        "from clarion.core.site import site_url; print(site_url('/act/'))",
    )
    assert site.stdout.strip() == "http://127.0.0.1:8811/act/"


def test_without_a_key_and_without_the_demo_file_clarion_refuses_to_start(tmp_path):
    refused = _clarion(tmp_path / "var", "check")
    assert refused.returncode != 0
    assert "CLARION_SECRET_KEY is not set" in refused.stderr


def test_the_demo_file_never_turns_a_configured_install_into_a_demo(demo_var):
    show = "from django.conf import settings; print(settings.DEMO, settings.SITE_URL)"
    keyed = _clarion(demo_var, "shell", "--no-imports", "-c", show, CLARION_SECRET_KEY="x" * 50)
    assert keyed.stdout.split() == ["False", "http://127.0.0.1:8000"]
    refused = _clarion(demo_var, "check", CLARION_DEMO="0")
    assert "CLARION_SECRET_KEY is not set" in refused.stderr
    # A file not written by `make run` is not read.
    (demo_var / "demo.env").write_text("CLARION_DEMO=1\n")
    assert "CLARION_SECRET_KEY is not set" in _clarion(demo_var, "check").stderr
