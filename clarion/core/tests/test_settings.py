"""Production settings: refuse to start without a secret key; deploy checks clean."""

from __future__ import annotations

import os
import re
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


# --- a bad value is one clear line, not a traceback ----------------------------------


def check_with(tmp_path, **extra) -> subprocess.CompletedProcess:
    env = clean_env(tmp_path, CLARION_SECRET_KEY="settings-test", **extra)
    return run([str(CLARION), "check"], env)


def assert_one_line_refusal(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_a_bad_whole_number_names_the_variable_and_what_it_must_be(tmp_path):
    result = check_with(tmp_path, CLARION_ACTION_IP_LIMIT="ten")
    assert_one_line_refusal(result, "CLARION_ACTION_IP_LIMIT must be a whole number", "'ten'")
    negative = check_with(tmp_path, CLARION_MAILINGS_SENDERS="0")
    assert_one_line_refusal(negative, "CLARION_MAILINGS_SENDERS must be a whole number, 1 or more")


def test_a_bad_switch_is_refused_rather_than_read_as_off(tmp_path):
    # Before, anything but 1/true/yes/on silently meant "off": a typo turned 2FA off.
    result = check_with(tmp_path, CLARION_REQUIRE_2FA="yse")
    assert_one_line_refusal(result, "CLARION_REQUIRE_2FA must be on or off", "'yse'")


def test_a_bad_database_url_is_refused_without_showing_its_password(tmp_path):
    result = check_with(tmp_path, DATABASE_URL="postgres://clarion:hunter2@db.internal:port/x")
    assert_one_line_refusal(result, "DATABASE_URL must be a database URL", "db.internal")
    assert "hunter2" not in result.stderr
    unknown = check_with(tmp_path, DATABASE_URL="clarion-db")
    assert_one_line_refusal(unknown, "DATABASE_URL must be a database URL", "'clarion-db'")


def test_other_bad_values_are_refused_in_one_line(tmp_path):
    cases = {
        "CLARION_TASK_BACKEND": ("celery", "must be database, rq or immediate"),
        "REDIS_URL": ("localhost:6379", "must be a URL starting redis://"),
        "CLARION_GEOCODER_TIMEOUT": ("soon", "must be a number"),
        "CLARION_PRIVATE_FILE_RETENTION_DAYS": ("0", "a whole number of days, 1 or more"),
        "CLARION_LOG_LEVEL": ("LOUD", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    }
    for name, (value, expected) in cases.items():
        assert_one_line_refusal(check_with(tmp_path, **{name: value}), name, expected)


def test_a_missing_secret_key_is_one_line_from_the_clarion_command(tmp_path):
    result = run([str(CLARION), "check"], clean_env(tmp_path))
    assert_one_line_refusal(result, "CLARION_SECRET_KEY is not set")


def test_a_fresh_checkout_starts_on_the_defaults(tmp_path):
    result = run([str(CLARION), "check"], clean_env(tmp_path, CLARION_DEMO="1"))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "from django.utils.module_loading import import_string as load; "
        "from django.core.mail.backends.console import EmailBackend as Console; "
        "console = issubclass(load(s.EMAIL_BACKEND), Console); "
        "print(s.DATABASES['default']['ENGINE'], console, s.DEBUG, s.SECURE, "
        "s.LOGIN_MAX_FAILURES, s.CLARION_ACTION_IP_LIMIT, s.CLARION_GEOCODER_TIMEOUT)"
    )
    env = clean_env(tmp_path, CLARION_DEMO="1", DJANGO_SETTINGS_MODULE="clarion.settings")
    shown = run([sys.executable, "-c", code], env)
    assert shown.stdout.split() == [
        "django.db.backends.sqlite3",
        "True",  # mail is printed to the console
        "False",
        "False",
        "5",
        "60",
        "3.0",
    ], shown.stderr


def test_empty_and_spaced_values_mean_what_they_always_meant(tmp_path):
    code = (
        "import clarion.settings as s; "
        "print(s.DEBUG, s.SECURE, s.CLARION_ACTION_IP_LIMIT, s.ALLOWED_HOSTS, s.SITE_URL)"
    )
    env = clean_env(
        tmp_path,
        CLARION_DEBUG=" TRUE ",
        CLARION_SECURE="off",
        CLARION_ACTION_IP_LIMIT="",
        CLARION_ALLOWED_HOSTS=" a.example , ,b.example",
        CLARION_SITE_URL="https://clarion.example.org/",
    )
    result = run([sys.executable, "-c", code], env)
    assert result.stdout.strip() == (
        "True False 60 ['a.example', 'b.example'] https://clarion.example.org"
    ), result.stderr


# --- README.md's settings table -------------------------------------------------------

TESTS_ONLY = {"CLARION_TEST_FAST_HASHER"}


def readme_settings() -> set[str]:
    """Every variable named in the first cell of a row of README.md's settings table;
    ``CLARION_EMAIL_HOST` / `_PORT`` names CLARION_EMAIL_HOST and CLARION_EMAIL_PORT."""
    names: set[str] = set()
    for line in (PROJECT / "README.md").read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        cells = re.findall(r"`([A-Z_][A-Z0-9_]*)`", first_cell)
        base = ""
        for cell in cells:
            if cell.startswith("_") and base:
                names.add("_".join(base.split("_")[:2]) + cell)
            elif cell.startswith(("CLARION_", "DATABASE_URL", "REDIS_URL")):
                base = cell
                names.add(cell)
    return names


def test_every_setting_in_the_readme_table_is_read_and_every_setting_read_is_listed(tmp_path):
    code = "import clarion.settings; from clarion import environment as e; print(*e.names_read())"
    env = clean_env(tmp_path, CLARION_DEMO="1", CLARION_EMAIL_HOST="smtp.example.org")
    result = run([sys.executable, "-c", code], env)
    assert result.returncode == 0, result.stderr
    read = set(result.stdout.split())
    listed = readme_settings()
    assert len(listed) > 40
    assert listed - read == set(), "README lists settings Clarion does not read"
    assert read - listed - TESTS_ONLY == set(), "settings read but missing from the README"
