"""Sending over pipelined SMTP connections (as to Postfix): every recipient at most
once and every outcome recorded; transactional mail goes ahead of a running blast;
a long send gives its worker back between time slices."""

from __future__ import annotations

import collections
import threading
import time

import pytest

from clarion.mailings import bench_support, services
from clarion.mailings.models import Mailing, Recipient
from clarion.mailings.sending.deliver import Sender

from .helpers import make_mailing, run_tasks, send_and_work
from .pipelining import pipelining_sink

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


def _frozen(admin, everyone, capture, **fields) -> Mailing:
    mailing = make_mailing(admin, everyone, **fields)
    with capture(execute=False):
        services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    mailing.refresh_from_db()
    return mailing


def test_pipelined_send_records_every_outcome_and_sends_nobody_twice(
    admin, everyone, settings, django_capture_on_commit_callbacks
):
    bench_support.seed(40)
    with pipelining_sink(settings) as sink:
        sink.refuse["p3@bench.example"] = "550 5.1.1 No such user here"
        sink.refuse["p7@bench.example"] = "451 4.7.1 Greylisted, try again"
        sink.drop_after_data.add("p11@bench.example")
        mailing = send_and_work(
            make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
        )
        received = sink.rcpts()

    rows = {r.email: r for r in Recipient.objects.filter(mailing=mailing)}
    assert len(rows) == 40
    copies = collections.Counter(received)
    assert max(copies.values()) == 1
    assert set(received) == {e for e, r in rows.items() if r.status == "sent"}
    assert len(received) >= 30
    assert rows["p3@bench.example"].status == "failed"
    assert "550 5.1.1 No such user here" in rows["p3@bench.example"].reason
    assert rows["p7@bench.example"].status == "queued" and "451" in rows["p7@bench.example"].reason
    # The connection dropped after the message data: maybe delivered, never re-sent.
    assert rows["p11@bench.example"].status == "uncertain"
    assert "p11@bench.example" not in received
    # Nothing vanished: what is not final is queued for a retry, with the reason.
    for row in rows.values():
        assert row.status in {"sent", "failed", "uncertain", "queued"}
        if row.status == "queued":
            assert row.reason and row.next_attempt_at is not None
    assert mailing.status == Mailing.Status.SENDING  # retries are still due


def test_a_receipt_goes_ahead_of_a_running_blast(
    admin, everyone, settings, django_capture_on_commit_callbacks
):
    from django.core.mail import send_mail

    n = 60
    bench_support.seed(n)
    settings.CLARION_MAILINGS_CONNECTIONS = 1
    with pipelining_sink(
        settings, delay=0.03, backend="clarion.mailings.sending.backend.EmailBackend"
    ) as sink:
        mailing = _frozen(admin, everyone, django_capture_on_commit_callbacks)
        timing = {}

        def donor():
            sink.wait_for(5)  # the blast is under way
            timing["asked"] = time.monotonic()
            timing["result"] = send_mail(
                "Your receipt",
                "Thank you for your gift of £10.00.",
                "Clarion <receipts@clarion.example.org>",
                ["donor@example.net"],
            )
            timing["returned"] = time.monotonic()

        thread = threading.Thread(target=donor)
        thread.start()
        started = time.monotonic()
        result = Sender(mailing.pk, 0).run()
        finished = time.monotonic()
        thread.join(timeout=60)
        arrivals = list(sink.arrivals)
        peers = dict(sink.peers)

    order = [r for _, r, _ in arrivals]
    assert result == f"sent {n}"
    assert timing["result"] == 1
    assert order.count("donor@example.net") == 1
    position = order.index("donor@example.net")
    bulk_after = len(order) - position - 1
    # The receipt did not wait for the blast: most of the mailing arrived after it.
    assert bulk_after >= n // 2, (position, order)
    receipt_at = next(t for t, r, _ in arrivals if r == "donor@example.net")
    latency = receipt_at - timing["asked"]
    blast = finished - started
    assert latency < blast / 2, (latency, blast)
    assert latency < 10
    # It shared the blast's connection (the pool's priority lane), not a new one.
    assert peers["donor@example.net"] == peers["p0@bench.example"]
    receipt = next(m for _, r, m in arrivals if r == "donor@example.net")
    assert receipt["Subject"] == "Your receipt"
    assert sorted(order) == sorted(
        ["donor@example.net"] + [f"p{i}@bench.example" for i in range(n)]
    )
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT


def test_a_long_send_hands_its_slot_to_a_fresh_task_and_still_sends_once(
    admin, everyone, settings, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    bench_support.seed(12)
    settings.CLARION_MAILINGS_BATCH = 5
    settings.CLARION_MAILINGS_SLICE_SECONDS = 0.001  # yield after every batch
    with pipelining_sink(settings) as sink:
        mailing = _frozen(admin, everyone, django_capture_on_commit_callbacks)
        DBTaskResult.objects.all().delete()  # the senders queued at start; run by hand here
        assert Sender(mailing.pk, 0).run() == "sent 5, continues in a new task"
        assert sorted(sink.rcpts()) == sorted(f"p{i}@bench.example" for i in range(5))
        queued = DBTaskResult.objects.ready()
        assert [(t.task_path.rsplit(".", 1)[-1], t.args_kwargs["args"]) for t in queued] == [
            ("mailing_deliver", [mailing.pk, 0])
        ]
        run_tasks(django_capture_on_commit_callbacks, rounds=10)
        received = sink.wait_for(12)
    assert sorted(received) == sorted(f"p{i}@bench.example" for i in range(12))
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT


def test_transactional_mail_through_the_pool_arrives_and_refusals_raise(settings):
    import smtplib

    from django.core.mail import EmailMultiAlternatives

    with pipelining_sink(settings, backend="clarion.mailings.sending.backend.EmailBackend") as sink:
        sink.refuse["gone@example.net"] = "550 5.1.1 No such user here"
        message = EmailMultiAlternatives(
            "RSVP confirmed",
            "See you there.",
            "Clarion <events@clarion.example.org>",
            ["nora@example.net"],
            bcc=["archive@example.org"],
        )
        message.attach_alternative("<p>See you there.</p>", "text/html")
        assert message.send() == 1
        with pytest.raises(smtplib.SMTPException, match="550 5.1.1"):
            EmailMultiAlternatives(
                "Receipt", "Thanks", "receipts@clarion.example.org", ["gone@example.net"]
            ).send()
        received = sink.wait_for(2)
    assert sorted(received) == ["archive@example.org", "nora@example.net"]
    nora = next(m for _, r, m in sink.arrivals if r == "nora@example.net")
    assert nora["Subject"] == "RSVP confirmed" and "Bcc" not in nora
    assert nora.get_body(("html",)).get_content().strip() == "<p>See you there.</p>"
