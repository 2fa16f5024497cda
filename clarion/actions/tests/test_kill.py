"""A worker killed with SIGKILL while it processes signatures in intake loses none and
processes none twice: a real worker process on its own database (SQLite or
PostgreSQL, as the suite runs), a real SMTP sink; the kill lands while batches of
intake rows are being processed, and a new worker finishes the work."""

from __future__ import annotations

import collections
import json
import sqlite3
import time

import pytest

from clarion.mailings.tests.killtest import World, kill, recipient_sink, world_env

N = 400
BATCH = 10


@pytest.fixture
def sink():
    with recipient_sink() as port_got:
        yield port_got


def _processed_counter(env: dict):
    """How many intake rows are processed, read straight from the world's database."""
    sql = "SELECT count(*) FROM actions_submission WHERE processed_at IS NOT NULL"
    if env.get("CLARION_SQLITE_PATH"):
        path = env["CLARION_SQLITE_PATH"]

        def count() -> int:
            with sqlite3.connect(path, timeout=30) as conn:
                return conn.execute(sql).fetchone()[0]

        return count
    import psycopg

    url = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)

    def count() -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(sql).fetchone()[0]

    return count


def test_killed_worker_neither_loses_nor_repeats_a_signature(sink, tmp_path):
    port, received = sink
    env, drop = world_env(tmp_path, port, window=5, name="akill")
    world = World(env=env)
    support = "from clarion.actions.tests import killsupport as k; "
    try:
        world.migrate()
        world.shell(
            "from django.core.management import call_command; call_command('createcachetable')"
        )
        world.shell(support + f"k.seed({N})")
        before = json.loads(world.shell(support + "print(k.status())"))
        assert before["in_intake"] == N and before["people"] == 0
        world.shell(support + f"k.process({BATCH})")
        processed = _processed_counter(world.env)
        proc = world.worker()
        deadline = time.monotonic() + 120
        while processed() < N // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        kill(proc)  # SIGKILL, in the middle of processing the batches
        at_kill = processed()
        assert 0 < at_kill < N, "the kill did not land mid-intake"
        proc = world.worker()
        try:
            world.shell(support + f"k.process({BATCH})")  # the clock job would queue it
            deadline = time.monotonic() + 240
            while True:
                st = json.loads(world.shell(support + "print(k.status())"))
                if (
                    st["processed"] == N and st["emails_marked_sent"] == N and len(received) >= N
                ) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            time.sleep(1)  # a duplicate copy would arrive now
        finally:
            kill(proc)
    finally:
        if drop:
            drop()

    assert st["rows"] == N and st["in_intake"] == 0 and st["processed"] == N
    assert st["people"] == N and st["people_twice"] == []  # one person per signer
    assert st["submissions_per_person"] == [1]
    assert st["action_entry_people"] == N and st["action_entries"] == [1]  # one timeline entry
    assert st["created_entries"] == [1]
    assert st["email_task_rows"] == N and st["email_tasks"] == [1]  # one email queued
    copies = collections.Counter(received)
    assert len(copies) == N and set(copies.values()) == {1}  # and one received, each
