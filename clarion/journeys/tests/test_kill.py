"""A worker killed with SIGKILL mid-journey neither repeats nor skips a step: real
worker processes on their own database (SQLite or PostgreSQL, as the suite runs), a
real SMTP sink; the kill lands while batches are being advanced."""

from __future__ import annotations

import collections
import json
import sqlite3
import time

import pytest

from clarion.mailings.tests.killtest import World, kill, recipient_sink, world_env

N = 600
BATCH = 10
WINDOW = 5


@pytest.fixture
def sink():
    with recipient_sink() as port_got:
        yield port_got


def _counter(env: dict):
    """How many step runs are committed, read straight from the world's database."""
    if env.get("CLARION_SQLITE_PATH"):
        path = env["CLARION_SQLITE_PATH"]

        def count() -> int:
            with sqlite3.connect(path, timeout=30) as conn:
                return conn.execute("SELECT count(*) FROM journeys_steprun").fetchone()[0]

        return count
    import psycopg

    url = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)

    def count() -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM journeys_steprun").fetchone()[0]

    return count


def test_killed_worker_neither_repeats_nor_skips_a_step(sink, tmp_path):
    port, received = sink
    env, drop = world_env(tmp_path, port, window=WINDOW, name="jkill")
    world = World(env=env)
    support = "from clarion.journeys.tests import killsupport as k; "
    try:
        world.migrate()
        # As `make run` does: the database cache holds which triggers are listened to.
        world.shell(
            "from django.core.management import call_command; call_command('createcachetable')"
        )
        journey_id = int(world.shell(support + f"print(k.seed({N}))"))
        world.shell(support + f"k.advance({BATCH})")
        runs = _counter(world.env)
        proc = world.worker()
        deadline = time.monotonic() + 120
        while runs() < N and time.monotonic() < deadline:  # a quarter of the 4N runs
            time.sleep(0.02)
        kill(proc)  # SIGKILL, in the middle of advancing the batches
        at_kill = runs()
        assert 0 < at_kill < 4 * N, "the kill did not land mid-journey"
        time.sleep(2.5)  # any sender's lease runs out
        proc = world.worker()
        try:
            world.shell(support + f"k.advance({BATCH})")  # the clock would enqueue it
            deadline = time.monotonic() + 240
            while True:
                st = json.loads(world.shell(support + f"print(k.status({journey_id}))"))
                ledger_done = all(s in ("sent", "uncertain") for s in st["ledger"].values())
                if (
                    st["states"].get("completed") == N and len(st["ledger"]) == N and ledger_done
                ) or time.monotonic() > deadline:
                    break
                time.sleep(1)
        finally:
            kill(proc)
    finally:
        if drop:
            drop()

    assert st["states"] == {"completed": N}
    assert st["wrong"] == []  # every person ran every step exactly once, in order
    assert st["tag_counts"] == [2]  # both tag steps, once each
    copies = collections.Counter(received)
    assert sum(n - 1 for n in copies.values() if n > 1) == 0  # no duplicates
    lost = [e for e, s in st["ledger"].items() if s != "uncertain" and copies[e] == 0]
    assert lost == []
    assert sum(1 for s in st["ledger"].values() if s == "uncertain") <= WINDOW
    assert len(st["ledger"]) == N
