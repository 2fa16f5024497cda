"""Invariant 2 under SIGKILL: a worker process is killed mid-send and restarted; the
sink receives every recipient at most once, none is lost, and no more are uncertain
than the in-flight window. Runs on the suite's database engine (SQLite or PostgreSQL)
with its own database, since the worker is a separate process."""

from __future__ import annotations

import collections
import time

import pytest

from .killtest import World, kill, recipient_sink, wait_final, world_env

N = 240
WINDOW = 5


@pytest.fixture
def sink():
    with recipient_sink() as port_got:
        yield port_got


def test_killed_worker_neither_duplicates_nor_loses_mail(sink, tmp_path):
    port, received = sink
    env, drop = world_env(tmp_path, port, window=WINDOW, name="kill")
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
