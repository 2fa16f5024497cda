"""Scaled out: the send runs on the RQ task backend (Redis on loopback) with two real
worker processes, each working a sender slot at the same time; every recipient
arrives exactly once. Uses its own Redis database number and its own database."""

from __future__ import annotations

import collections
import json
import os

import pytest
import redis
from django.conf import settings as django_settings

from .killtest import World, kill, postgres_db_env, wait_final
from .pipelining import PipeliningSink

N = 300
REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def sink():
    from aiosmtpd.controller import Controller

    from clarion.core.testing.smtp import _free_port

    handler = PipeliningSink(delay=0.002)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


@pytest.fixture
def fresh_redis():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


def test_two_rq_workers_send_a_mailing_with_no_double_claim(sink, fresh_redis, tmp_path):
    port, handler = sink
    env = {
        "CLARION_SECRET_KEY": "rq-test",
        "CLARION_SECURE": "0",
        "CLARION_VAR_DIR": str(tmp_path),
        "CLARION_EMAIL_HOST": "127.0.0.1",
        "CLARION_EMAIL_PORT": str(port),
        "CLARION_MAILINGS_SENDERS": "2",
        "CLARION_MAILINGS_BATCH": "20",
        "CLARION_MAILINGS_WINDOW": "5",
        "CLARION_TASK_BACKEND": "rq",
        "REDIS_URL": REDIS_URL,
        "CLARION_LOG_LEVEL": "WARNING",
    }
    drop = None
    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        extra, drop = postgres_db_env(os.environ["DATABASE_URL"], "_rq")
        env.update(extra)
    else:
        env["DATABASE_URL"] = ""
        env["CLARION_SQLITE_PATH"] = str(tmp_path / "rq.sqlite3")
    world = World(env=env)
    workers = []
    try:
        world.migrate()
        mailing_id = int(
            world.shell(
                f"from clarion.mailings import bench_support as b; b.seed({N}); print(b.make())"
            )
        )
        workers = [world.worker(), world.worker()]
        world.shell(f"from clarion.mailings import bench_support as b; b.send({mailing_id})")
        # The send went through Redis, not the database queue.
        assert fresh_redis.keys("rq:*")
        final = wait_final(world, mailing_id, timeout=240)
        ledger = json.loads(
            world.shell(
                f"from clarion.mailings import bench_support as b; print(b.emails_by_status({mailing_id}))"
            )
        )
        deliveries = _deliver_jobs(fresh_redis)
    finally:
        for proc in workers:
            kill(proc)
        if drop:
            drop()

    received = handler.rcpts()
    copies = collections.Counter(received)
    assert final["status"] == "sent", final
    assert len(ledger) == N and set(ledger.values()) == {"sent"}
    assert sorted(copies) == sorted(ledger)
    assert max(copies.values()) == 1  # no recipient was claimed (and mailed) twice
    # Both worker processes sent part of the mailing, each working one sender slot.
    workers_used = {worker for worker, _ in deliveries}
    assert len(workers_used) == 2, deliveries
    assert sum(sent for _, sent in deliveries) == N, deliveries
    assert all(sent > 0 for _, sent in deliveries), deliveries


def _deliver_jobs(client) -> list[tuple[str, int]]:
    """(worker name, messages sent) of each finished ``mailing_deliver`` job."""
    from rq import Queue
    from rq.job import Job

    out = []
    for job_id in Queue("default", connection=client).finished_job_registry.get_job_ids():
        job = Job.fetch(job_id, connection=client)
        if "mailing_deliver" not in (job.func_name or "") and "mailing_deliver" not in str(
            job.args
        ):
            continue
        result = str(job.return_value() or "")
        if result.startswith("sent "):
            out.append((job.worker_name, int(result.split()[1].rstrip(","))))
    return out
