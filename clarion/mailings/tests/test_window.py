"""The in-flight window: no more than ``CLARION_MAILINGS_WINDOW`` rows are ever in
flight (what a crash can leave uncertain), counted after every in-flight mark."""

from __future__ import annotations

import collections

import pytest
from django.db import connection

from clarion.mailings import bench_support, services
from clarion.mailings.models import Mailing, Recipient
from clarion.mailings.sending import deliver
from clarion.mailings.sending.deliver import Sender

from .helpers import make_mailing
from .pipelining import pipelining_sink

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]

N, WINDOW = 120, 10


def _watch_marks(monkeypatch) -> list[tuple[int, int]]:
    """Each in-flight mark as (rows asked for, rows in flight just after its commit)."""
    marks: list[tuple[int, int]] = []
    real = deliver.window_advance

    def counted(mailing, slot, owner, sent, ids, person_ids):
        allowed = real(mailing, slot, owner, sent, ids, person_ids)
        # On the connection that made the mark (the helper thread's on PostgreSQL).
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {Recipient._meta.db_table} "  # noqa: S608
                "WHERE mailing_id = %s AND status = %s",
                [mailing.pk, Recipient.Status.IN_FLIGHT],
            )
            marks.append((len(ids), cursor.fetchone()[0]))
        return allowed

    monkeypatch.setattr(deliver, "window_advance", counted)
    return marks


def _send(admin, everyone, capture) -> Mailing:
    mailing = make_mailing(admin, everyone)
    with capture(execute=False):
        services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    mailing.refresh_from_db()
    return mailing


def test_never_more_than_the_window_in_flight(
    admin, everyone, settings, monkeypatch, django_capture_on_commit_callbacks
):
    bench_support.seed(N)
    settings.CLARION_MAILINGS_WINDOW = WINDOW
    settings.CLARION_MAILINGS_BATCH = 200
    settings.CLARION_MAILINGS_CONNECTIONS = 1
    marks = _watch_marks(monkeypatch)
    # 10 ms per message at the server, so answers arrive while marks are committed.
    with pipelining_sink(settings, delay=0.01) as sink:
        mailing = _send(admin, everyone, django_capture_on_commit_callbacks)
        assert Sender(mailing.pk, 0).run() == f"sent {N}"
        received = sink.rcpts()

    assert max(copies for copies in collections.Counter(received).values()) == 1
    assert len(received) == N
    assert Recipient.objects.filter(mailing=mailing, status="sent").count() == N
    assert sum(asked for asked, _ in marks) == N
    assert max(in_flight for _, in_flight in marks) <= WINDOW, marks
    assert max(in_flight for _, in_flight in marks) > WINDOW // 2, marks  # parts overlap


def test_a_window_of_one_sends_one_message_at_a_time(
    admin, everyone, settings, monkeypatch, django_capture_on_commit_callbacks
):
    bench_support.seed(12)
    settings.CLARION_MAILINGS_WINDOW = 1
    marks = _watch_marks(monkeypatch)
    with pipelining_sink(settings) as sink:
        mailing = _send(admin, everyone, django_capture_on_commit_callbacks)
        assert Sender(mailing.pk, 0).run() == "sent 12"
        assert sorted(sink.rcpts()) == sorted(f"p{i}@bench.example" for i in range(12))
    assert marks == [(1, 1)] * 12
