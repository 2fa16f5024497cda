"""Scaled out: the engine on the RQ task backend (Redis on loopback), two worker
processes advancing the same journey at once; every person runs every step exactly
once and gets the email once. Its own Redis database number and its own database."""

from __future__ import annotations

import collections
import json
import os
import time

import pytest
import redis
from django.conf import settings as django_settings

from clarion.mailings.tests.killtest import World, kill, postgres_db_env

N = 300
REDIS_URL = "redis://127.0.0.1:6379/14"


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


@pytest.fixture
def fresh_redis():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


def test_two_rq_workers_advance_one_journey_without_running_a_step_twice(
    sink, fresh_redis, tmp_path
):
    port, received = sink
    env = {
        "CLARION_SECRET_KEY": "rq-test",
        "CLARION_SECURE": "0",
        "CLARION_VAR_DIR": str(tmp_path),
        "CLARION_EMAIL_HOST": "127.0.0.1",
        "CLARION_EMAIL_PORT": str(port),
        "CLARION_MAILINGS_SENDERS": "1",
        "CLARION_MAILINGS_BATCH": "20",
        "CLARION_TASK_BACKEND": "rq",
        "REDIS_URL": REDIS_URL,
        "CLARION_LOG_LEVEL": "WARNING",
    }
    drop = None
    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        extra, drop = postgres_db_env(os.environ["DATABASE_URL"], "_jrq")
        env.update(extra)
    else:
        env["DATABASE_URL"] = ""
        env["CLARION_SQLITE_PATH"] = str(tmp_path / "jrq.sqlite3")
    world = World(env=env)
    support = "from clarion.journeys.tests import killsupport as k; "
    workers = []
    try:
        world.migrate()
        journey_id = int(world.shell(support + f"print(k.seed({N}))"))
        workers = [world.worker(), world.worker()]
        world.shell(support + "k.advance(10); k.advance(10)")  # two engine tasks at once
        assert fresh_redis.keys("rq:*")  # the work went through Redis
        deadline = time.monotonic() + 240
        while True:
            st = json.loads(world.shell(support + f"print(k.status({journey_id}))"))
            done = st["states"].get("completed") == N and len(st["ledger"]) == N
            if (done and set(st["ledger"].values()) == {"sent"}) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        for proc in workers:
            kill(proc)
        if drop:
            drop()

    assert st["states"] == {"completed": N}
    assert st["wrong"] == []
    assert st["tag_counts"] == [2]
    assert set(st["ledger"].values()) == {"sent"}
    copies = collections.Counter(received)
    assert sorted(copies) == sorted(st["ledger"]) and max(copies.values()) == 1
