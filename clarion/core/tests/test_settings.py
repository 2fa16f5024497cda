"""Production settings: refuse to start without a secret key; deploy checks clean."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]
CLARION = Path(sys.executable).with_name("clarion")


def clean_env(tmp_path, **extra) -> dict[str, str]:
    """Only what a process needs to run, plus ``extra``: nothing leaks from the test run."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CLARION_VAR_DIR": str(tmp_path),
    }
    env.update(extra)
    return env


def run(args, env):
    return subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run([sys.executable, "-c", "import clarion.settings"], clean_env(tmp_path))
    assert result.returncode != 0
    assert "ImproperlyConfigured: CLARION_SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_demo_mode_starts_without_a_secret_key_and_keeps_one_on_disk(tmp_path):
    result = run(
        [sys.executable, "-c", "import clarion.settings"], clean_env(tmp_path, CLARION_DEMO="1")
    )
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "secret_key").read_text().strip()) >= 50


@pytest.fixture
def production_env(tmp_path):
    return clean_env(
        tmp_path, CLARION_SECRET_KEY=secrets.token_urlsafe(50), CLARION_ALLOWED_HOSTS="example.org"
    )


def test_deploy_check_is_clean_for_production_settings(production_env):
    result = run([str(CLARION), "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout


def test_deploy_check_would_notice_insecure_settings(production_env):
    """The clean result above is meaningful: the same check complains when it should."""
    result = run(
        [str(CLARION), "check", "--deploy"],
        {**production_env, "CLARION_SECURE": "0", "CLARION_DEBUG": "1"},
    )
    output = result.stdout + result.stderr
    assert "security.W012" in output  # SESSION_COOKIE_SECURE off
    assert "security.W018" in output  # DEBUG on


def test_production_defaults_are_secure(production_env):
    code = (
        "from django.conf import settings as s; import django; django.setup(); "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS > 0, s.ALLOWED_HOSTS)"
    )
    result = run(
        [sys.executable, "-c", code],
        {**production_env, "DJANGO_SETTINGS_MODULE": "clarion.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True True True True ['example.org']"
