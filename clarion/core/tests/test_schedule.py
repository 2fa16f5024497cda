"""The periodic scheduler (``core.schedule``) and ``clarion clock``."""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone
from django_tasks import task

from clarion.core import schedule
from clarion.core.management.commands.clock import clock_loop
from clarion.core.models import ScheduledJob

HOUR = dt.timedelta(hours=1)
task_runs: list[str] = []


@task()
def bump_task() -> None:
    task_runs.append("ran")


@pytest.fixture
def registry(monkeypatch):
    """An empty job registry for the test (the apps' real jobs are left out)."""
    monkeypatch.setattr(schedule, "_registry", {})
    return schedule


class Counter:
    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1


class InstantStop(threading.Event):
    """A stop event whose waits return at once, remembering how long they were asked for."""

    def __init__(self):
        super().__init__()
        self.pauses: list[float] = []

    def wait(self, timeout=None):
        self.pauses.append(timeout)
        return self.is_set()


def test_the_apps_register_the_retention_run_and_event_reminders():
    names = {job.name for job in schedule.jobs()}
    assert {"people.retention", "people.private_files_purge", "events.reminders"} <= names
    retention_job = next(job for job in schedule.jobs() if job.name == "people.retention")
    assert retention_job.every == dt.timedelta(days=1)
    assert retention_job.is_task


@pytest.mark.django_db
def test_a_due_job_runs_once_per_period(registry):
    counter = Counter()
    registry.register("test.hourly", counter, every=HOUR)
    now = timezone.now()

    assert registry.run_due(now=now) == ["test.hourly"]
    assert registry.run_due(now=now) == []
    assert registry.run_due(now=now + dt.timedelta(minutes=59)) == []
    assert counter.calls == 1

    assert registry.run_due(now=now + HOUR) == ["test.hourly"]
    assert counter.calls == 2
    row = ScheduledJob.objects.get(name="test.hourly")
    assert row.next_run_at == now + 2 * HOUR


@pytest.mark.django_db
def test_a_second_clock_cannot_claim_a_period_already_claimed(registry):
    job = registry.register("test.hourly", Counter(), every=HOUR)
    now = timezone.now()
    assert schedule.job_claim(job, now=now, claimer="clock-a")
    assert not schedule.job_claim(job, now=now, claimer="clock-b")
    assert ScheduledJob.objects.get(name="test.hourly").last_claimed_by == "clock-a"


@pytest.mark.django_db(transaction=True)
def test_two_clocks_racing_start_a_job_once(registry):
    counter = Counter()
    registry.register("test.race", counter, every=HOUR)
    now = timezone.now()
    ScheduledJob.objects.create(name="test.race", next_run_at=now - HOUR)
    start = threading.Barrier(2)
    started: list[list[str]] = []
    errors: list[BaseException] = []

    def clock(claimer: str) -> None:
        from django.db import connections

        try:
            start.wait()
            started.append(registry.run_due(now=now, claimer=claimer))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=clock, args=(f"clock-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(len(names) for names in started) == [0, 1]
    assert counter.calls == 1


@pytest.mark.django_db
def test_a_task_job_is_enqueued_for_a_worker(registry, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    task_runs.clear()
    registry.register("test.task", bump_task, every=HOUR)
    registry.run_due()
    registry.run_due()
    assert task_runs == ["ran"]


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_others(registry, caplog):
    counter = Counter()

    def broken():
        raise RuntimeError("boom")

    registry.register("test.broken", broken, every=HOUR)
    registry.register("test.fine", counter, every=HOUR)
    with caplog.at_level(logging.ERROR):
        assert registry.run_due() == ["test.fine"]
    assert counter.calls == 1
    assert "test.broken failed" in caplog.text


@pytest.mark.django_db
def test_the_clock_survives_a_lost_database_connection(registry, monkeypatch, caplog):
    counter = Counter()
    registry.register("test.hourly", counter, every=HOUR)
    real_claim = schedule.job_claim
    failures = iter([True, True])

    def flaky_claim(job, **kwargs):
        if next(failures, False):
            raise OperationalError("server closed the connection unexpectedly")
        return real_claim(job, **kwargs)

    monkeypatch.setattr(schedule, "job_claim", flaky_claim)
    stop = InstantStop()
    with caplog.at_level(logging.WARNING, logger="clarion.clock"):
        clock_loop(stop=stop, tick=30, max_ticks=3)

    assert counter.calls == 1
    assert "database error" in caplog.text
    # Backs off 1 s then 2 s, then sleeps until the job is next due (at most a tick).
    assert stop.pauses[:2] == [1.0, 2.0]
    # The clock still reaches the database after the failures.
    connection.ensure_connection()
    assert ScheduledJob.objects.filter(name="test.hourly").exists()


@pytest.mark.django_db
def test_clock_once_starts_what_is_due_and_exits(registry):
    counter = Counter()
    registry.register("test.hourly", counter, every=HOUR)
    out = io.StringIO()
    call_command("clock", "--once", stdout=out)
    assert "started test.hourly" in out.getvalue()
    assert counter.calls == 1
    call_command("clock", "--once", stdout=io.StringIO())
    assert counter.calls == 1


@pytest.mark.django_db
def test_a_job_due_every_few_seconds_runs_without_filling_the_console(registry, caplog):
    hourly, frequent = Counter(), Counter()
    registry.register("test.hourly", hourly, every=HOUR)
    registry.register("test.frequent", frequent, every=dt.timedelta(seconds=10))
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="clarion.core.schedule"):
        call_command("clock", "--once", stdout=out)
    assert hourly.calls == 1 and frequent.calls == 1
    assert "started test.hourly" in out.getvalue()
    assert "started test.frequent" not in out.getvalue()
    assert "test.hourly" in caplog.text and "test.frequent" not in caplog.text


@pytest.mark.django_db
def test_jobs_due_every_minute_or_more_often_start_quietly(registry, caplog):
    registry.register("test.minutely", Counter(), every=dt.timedelta(minutes=1))
    registry.register("test.hourly", Counter(), every=HOUR)
    with caplog.at_level(logging.DEBUG, logger="clarion.core.schedule"):
        assert sorted(registry.run_due(now=timezone.now())) == ["test.hourly", "test.minutely"]
    levels = {r.getMessage(): r.levelno for r in caplog.records if "started" in r.getMessage()}
    assert levels == {
        "periodic job test.minutely started": logging.DEBUG,
        "periodic job test.hourly started": logging.INFO,
    }
