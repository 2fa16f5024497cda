"""Invariant 2 under SIGKILL: a worker process is killed mid-send and restarted; the
sink receives every recipient at most once, none is lost, and no more are uncertain
than the in-flight window. Runs on the suite's database engine (SQLite or PostgreSQL)
with its own database, since the worker is a separate process."""

from __future__ import annotations

import collections
import os
import time

import pytest
from django.conf import settings as django_settings

from .killtest import World, kill, postgres_db_env, wait_final

N = 240
WINDOW = 5


@pytest.fixture
def sink():
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
    yield port, got
    controller.stop()


def test_killed_worker_neither_duplicates_nor_loses_mail(sink, tmp_path):
    port, received = sink
    env = {
        "CLARION_SECRET_KEY": "kill-test",
        "CLARION_SECURE": "0",
        "CLARION_VAR_DIR": str(tmp_path),
        "CLARION_EMAIL_HOST": "127.0.0.1",
        "CLARION_EMAIL_PORT": str(port),
        "CLARION_MAILINGS_LEASE_SECONDS": "2",
        "CLARION_MAILINGS_SENDERS": "1",
        "CLARION_MAILINGS_BATCH": "20",
        "CLARION_MAILINGS_WINDOW": str(WINDOW),
        "CLARION_TASK_BACKEND": "database",
        "CLARION_LOG_LEVEL": "WARNING",
    }
    drop = None
    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        extra, drop = postgres_db_env(os.environ["DATABASE_URL"], "_kill")
        env.update(extra)
    else:
        env["DATABASE_URL"] = ""
        env["CLARION_SQLITE_PATH"] = str(tmp_path / "kill.sqlite3")
    world = World(env=env)
    try:
        world.migrate()
        mailing_id = int(
            world.shell(
                f"from clarion.mailings import bench_support as b; b.seed({N}); print(b.make(rate=60))"
            )
        )
        world.shell(f"from clarion.mailings import bench_support as b; b.send({mailing_id})")
        proc = world.worker()
        deadline = time.monotonic() + 120
        while len(received) < N // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received, "the worker sent nothing before the kill"
        kill(proc)  # SIGKILL, mid-send
        at_kill = len(received)
        time.sleep(2.5)  # the dead worker's lease runs out
        proc = world.worker()
        try:
            final = wait_final(world, mailing_id, timeout=180)
        finally:
            kill(proc)
        import json

        ledger = json.loads(
            world.shell(
                f"from clarion.mailings import bench_support as b; print(b.emails_by_status({mailing_id}))"
            )
        )
    finally:
        if drop:
            drop()

    copies = collections.Counter(received)
    duplicates = sum(n - 1 for n in copies.values() if n > 1)
    lost = [e for e, s in ledger.items() if s != "uncertain" and copies[e] == 0]
    uncertain = sum(1 for s in ledger.values() if s == "uncertain")
    assert at_kill < N, "the kill came after the send had finished"
    assert final["status"] == "sent", final
    assert len(ledger) == N
    assert duplicates == 0
    assert lost == []
    assert uncertain <= WINDOW
    assert set(ledger.values()) <= {"sent", "uncertain"}
