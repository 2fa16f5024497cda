"""Running a real worker process against its own database, killing it with SIGKILL
mid-send and restarting it. Shared by the suite's kill test and bench/blast_crash.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CLARION = str(Path(sys.executable).with_name("clarion"))


class World:
    def __init__(self, *, env: dict):
        self.env = {**os.environ, **env}

    def shell(self, code: str) -> str:
        out = subprocess.run(
            [CLARION, "shell", "--no-imports", "-c", code],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        return out.stdout.strip()

    def migrate(self) -> None:
        out = subprocess.run(
            [CLARION, "migrate", "-v", "0"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])

    def worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [CLARION, "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def status(self, mailing_id: int) -> dict:
        return json.loads(
            self.shell(
                f"from clarion.mailings import bench_support as b; print(b.status({mailing_id}))"
            )
        )


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_final(world: World, mailing_id: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = world.status(mailing_id)
        if st["status"] == "sent" or time.monotonic() > deadline:
            return st
        time.sleep(1)


def postgres_db_env(url: str, suffix: str) -> tuple[dict, callable]:
    """A fresh PostgreSQL database next to ``url``'s; returns (env, drop)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + suffix
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))

    def run(sql: str) -> None:
        with psycopg.connect(
            admin_url.replace("postgres://", "postgresql://", 1), autocommit=True
        ) as conn:
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}"')
    run(f'CREATE DATABASE "{name}"')
    env = {"DATABASE_URL": urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))}
    return env, lambda: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def recipient_sink():
    """A real SMTP server on loopback that notes each recipient; yields (port, got)."""
    from aiosmtpd.controller import Controller

    from clarion.core.testing.smtp import _free_port

    got: list[str] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.extend(envelope.rcpt_tos)
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, got
    finally:
        controller.stop()


def world_env(tmp_path, port: int, *, window: int, name: str) -> tuple[dict, callable]:
    """The environment of a separate Clarion process sending to ``port`` on its own
    database (a fresh PostgreSQL database when the suite runs on PostgreSQL, else a
    SQLite file); returns (env, drop), drop being None for SQLite."""
    from django.conf import settings as django_settings

    env = {
        "CLARION_SECRET_KEY": "kill-test",
        "CLARION_SECURE": "0",
        "CLARION_VAR_DIR": str(tmp_path),
        "CLARION_EMAIL_HOST": "127.0.0.1",
        "CLARION_EMAIL_PORT": str(port),
        "CLARION_MAILINGS_LEASE_SECONDS": "2",
        "CLARION_MAILINGS_SENDERS": "1",
        "CLARION_MAILINGS_BATCH": "20",
        "CLARION_MAILINGS_WINDOW": str(window),
        "CLARION_TASK_BACKEND": "database",
        "CLARION_LOG_LEVEL": "WARNING",
    }
    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        extra, drop = postgres_db_env(os.environ["DATABASE_URL"], f"_{name}")
        env.update(extra)
        return env, drop
    env["DATABASE_URL"] = ""
    env["CLARION_SQLITE_PATH"] = str(tmp_path / f"{name}.sqlite3")
    return env, None
