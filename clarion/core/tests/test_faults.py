"""Staying up when the database or Redis goes away (core/faults.py, workers, serve).

A lost database connection is real on PostgreSQL (``pg_terminate_backend`` on the
connection's own backend, as a restart does to every connection); SQLite is a file
with no connection to lose, so there the first query after the "loss" raises the
OperationalError a dead connection would.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import OperationalError, connection, connections
from django.test import override_settings
from django.urls import reverse
from django_tasks import task

from clarion.core.faults import redis_breaker

ROOT = Path(__file__).resolve().parents[3]


@task()
def fault_drill_task(marker: str) -> str:
    """A task that needs the database, for the worker tests."""
    from django.contrib.auth import get_user_model

    return f"{marker}:{get_user_model().objects.count()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lose_connection(conn=connection) -> None:
    """Make ``conn``'s next query meet a lost connection."""
    conn.ensure_connection()
    if conn.vendor == "postgresql":
        import psycopg

        pid = conn.connection.info.backend_pid
        params = conn.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        with psycopg.connect(**{**params, "autocommit": True}) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return
    failed = []

    def fail_once(execute, sql, params, many, context):
        if not failed:
            failed.append(sql)
            raise OperationalError("disk I/O error (connection lost)")
        return execute(sql, params, many, context)

    conn.execute_wrappers.append(fail_once)


@pytest.fixture(autouse=True)
def _breaker_closed():
    redis_breaker.reset()
    yield
    redis_breaker.reset()


# --- The web side ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_lost_database_answers_a_friendly_503_then_the_next_request_reconnects(client):
    from clarion.actions.tests.conftest import make_page

    home = reverse("actions:page", kwargs={"slug": make_page().slug})
    assert client.get(home).status_code == 200
    lose_connection()
    response = client.get(home)
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Please try again shortly" in html
    assert "clarion.css" in html  # the site's own layout, not a bare error
    assert "Traceback" not in html and "Server Error" not in html
    connection.execute_wrappers.clear()
    assert client.get(home).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_api_answers_503_with_a_json_error_while_the_database_is_away(client):
    lose_connection()
    response = client.get("/api/v2/people/", HTTP_OSDI_API_TOKEN="anything")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/hal+json")
    assert "try again" in response.json()["error"]
    assert response["Retry-After"] == "5"
    connection.execute_wrappers.clear()
    assert client.get("/api/v2/people/", HTTP_OSDI_API_TOKEN="anything").status_code == 401


@pytest.mark.django_db
def test_a_database_error_inside_the_session_middleware_is_a_503_too(monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import Client

    # The test client re-raises any exception a request met; a browser sees the answer.
    client = Client(raise_request_exception=False)

    def lost(self):
        raise OperationalError("server closed the connection unexpectedly")

    # A signed-in visitor: the session is loaded by middleware, before any view runs.
    client.cookies["sessionid"] = "x" * 32
    monkeypatch.setattr(SessionStore, "load", lost)
    response = client.get(reverse("core:login"))
    assert response.status_code == 503
    assert "Please try again shortly" in response.content.decode()


# --- Redis -------------------------------------------------------------------------

CLOSED = f"redis://127.0.0.1:{free_port()}/0"
REDIS_DOWN = {
    "CACHES": {"default": {"BACKEND": "clarion.core.cache.RedisCache", "LOCATION": CLOSED}}
}


def test_cache_degrades_to_misses_when_redis_is_unreachable(caplog):
    from django.core.cache import cache

    with override_settings(**REDIS_DOWN), caplog.at_level(logging.WARNING, "clarion.faults"):
        started = time.monotonic()
        cache.set("k", 1)
        assert cache.get("k", "fallback") == "fallback"
        assert cache.add("k", 1) is False
        assert cache.get_many(["k"]) == {}
        with pytest.raises(ValueError):
            cache.incr("k")
        cache.delete("k")
        assert time.monotonic() - started < 2  # no retries with back-off per call
    assert "Redis unavailable" in caplog.text


def test_rate_limits_fail_open_with_a_log_line_when_redis_is_unreachable(caplog):
    from clarion.core.ratelimit import ratelimit_hit, ratelimit_hits

    with override_settings(**REDIS_DOWN), caplog.at_level(logging.WARNING):
        assert ratelimit_hits([("act-ip", "203.0.113.9", 600), ("act-email", "a@b", 600)]) == [
            0,
            0,
        ]
        for _ in range(5):
            assert ratelimit_hit(scope="login", ident="203.0.113.9", window=60) == 0
    assert "failing open" in caplog.text


@pytest.mark.django_db
def test_signatures_are_accepted_while_redis_is_down(client):
    from clarion.actions.models import Submission
    from clarion.actions.tests.conftest import make_page

    page = make_page()
    with override_settings(**REDIS_DOWN):
        for n in range(3):
            response = client.post(
                reverse("actions:page", kwargs={"slug": page.slug}),
                {"first_name": "Ada", "last_name": "L", "email": f"ada{n}@example.net"},
            )
            assert response.status_code == 302
    assert Submission.objects.filter(page=page).count() == 3


@contextmanager
def private_redis():
    """A throwaway Redis on a free port (the shared one is never stopped by tests)."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def rq_settings(url: str) -> dict:
    return {
        "CACHES": {"default": {"BACKEND": "clarion.core.cache.RedisCache", "LOCATION": url}},
        "TASKS": {
            "default": {"BACKEND": "clarion.core.outbox.OutboxRQBackend", "QUEUES": ["default"]},
            "outbox": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []},
        },
        "RQ_QUEUES": {"default": {"URL": url, "DEFAULT_TIMEOUT": 60}},
    }


@pytest.mark.django_db(transaction=True)
def test_tasks_enqueued_while_redis_is_down_wait_in_the_outbox_and_run_when_it_is_back():
    import django_rq
    from django_tasks_db.models import DBTaskResult
    from rq.worker import SimpleWorker

    from clarion.core.outbox import outbox_drain, outbox_pending
    from clarion.core.workers import RetryingJob

    with private_redis() as (url, proc):
        proc.terminate()
        proc.wait(timeout=10)
        with override_settings(**rq_settings(url)):
            result = fault_drill_task.enqueue("kept")
            assert result.backend == "outbox"
            assert outbox_pending() == 1
            # Still down: the drain keeps the task.
            with pytest.raises(Exception):  # noqa: B017 - any Redis connection error
                outbox_drain()
            assert outbox_pending() == 1
    with private_redis() as (url, _proc), override_settings(**rq_settings(url)):
        redis_breaker.reset()
        assert outbox_drain() == 1
        assert outbox_pending() == 0
        assert not DBTaskResult.objects.exists()
        rq_queue = django_rq.get_queue("default", job_class=RetryingJob)
        assert rq_queue.count == 1
        worker = django_rq.get_worker("default", job_class=RetryingJob, worker_class=SimpleWorker)
        worker.work(burst=True)
        job = rq_queue.fetch_job(rq_queue.finished_job_registry.get_job_ids()[0])
        assert job.return_value() == "kept:0"


# --- Workers ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_worker_survives_a_lost_connection_and_runs_a_task_queued_afterwards(
    monkeypatch, caplog
):
    from django_tasks_db.models import DBTaskResult, DBTaskResultQuerySet

    from clarion.core.workers import ResilientDBWorker

    original = DBTaskResultQuerySet.get_locked
    lost = threading.Event()

    def get_locked(self):
        if not lost.is_set():
            lost.set()
            lose_connection()
        return original(self)

    monkeypatch.setattr(DBTaskResultQuerySet, "get_locked", get_locked)
    worker = ResilientDBWorker(
        queue_names=["*"],
        interval=0.1,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="fault-drill",
        excluded_queue_names=[],
    )

    def run():
        try:
            worker.run()
        finally:
            connections.close_all()  # the thread's own connection must not outlive it

    thread = threading.Thread(target=run, daemon=True)
    with caplog.at_level(logging.WARNING):
        thread.start()
        try:
            assert lost.wait(10)
            result = fault_drill_task.enqueue("after")
            deadline = time.monotonic() + 20
            row = DBTaskResult.objects.get(pk=result.id)
            while row.status != "SUCCESSFUL" and time.monotonic() < deadline:
                time.sleep(0.1)
                row.refresh_from_db()
        finally:
            worker.running = False
            thread.join(10)
    assert row.status == "SUCCESSFUL"
    assert row.return_value.startswith("after:")
    assert not thread.is_alive()
    assert "Task worker lost the database" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_task_cut_off_by_a_lost_connection_is_run_again(monkeypatch):
    from django_tasks_db.models import DBTaskResult

    from clarion.core.workers import ResilientDBWorker

    calls = []
    real_call = type(fault_drill_task).call

    def flaky_call(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            lose_connection()
            from django.contrib.auth import get_user_model

            get_user_model().objects.count()  # meets the lost connection
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(type(fault_drill_task), "call", flaky_call)
    result = fault_drill_task.enqueue("again")
    worker = ResilientDBWorker(
        queue_names=["*"],
        interval=0.1,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="fault-drill",
        excluded_queue_names=[],
    )
    worker.run()
    connection.execute_wrappers.clear()
    row = DBTaskResult.objects.get(pk=result.id)
    assert len(calls) == 2
    assert (row.status, row.return_value) == ("SUCCESSFUL", "again:0")
    assert len(row.worker_ids) == 2


# --- clarion serve -----------------------------------------------------------------


def test_serve_restarts_a_killed_worker_and_stops_cleanly_on_sigterm(tmp_path):
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "CLARION_TASK_BACKEND", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        {
            "CLARION_DEMO": "1",
            "CLARION_VAR_DIR": str(tmp_path),
            "CLARION_STATIC_MANIFEST": "0",
            "CLARION_STATIC_ROOT": str(tmp_path / "static"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "clarion.cli", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in serve.stdout], daemon=True).start()
    seen: list[str] = []

    def wait_for(pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no {pattern!r} within {timeout}s in:\n{''.join(seen)}")

    try:
        first = int(wait_for(r"started worker \(pid (\d+)\)").group(1))
        os.kill(first, signal.SIGKILL)
        wait_for(rf"worker \(pid {first}\) exited with status -9; starting it again")
        second = int(wait_for(r"started worker \(pid (\d+)\)", timeout=20).group(1))
        assert second != first
        os.kill(second, 0)  # the new worker is alive
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(second, 0)
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(timeout=10)
