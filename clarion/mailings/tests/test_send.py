"""The send pipeline: freeze, claim, personalise, deliver once, record every outcome."""

from __future__ import annotations

import pytest
from django.utils import timezone

from clarion.core.testing.smtp import body_html, body_text
from clarion.mailings.models import Mailing, Recipient
from clarion.mailings.sending import deliver
from clarion.people.models import Activity, EmailStatus, Suppression
from clarion.people.normalise import email_hash
from clarion.people.services import email_status_set

from .helpers import make_mailing, run_tasks, send_and_work

pytestmark = [pytest.mark.usefixtures("mail_settings"), pytest.mark.django_db(transaction=True)]


def test_each_subscriber_gets_one_personalised_copy(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )

    assert mailing.status == Mailing.Status.SENT
    messages = smtp_server.wait_for(3)
    assert sorted(a for m in messages for a in m.envelope_to) == [
        "nell@example.net",
        "nora@example.net",
        "sid@example.net",
    ]
    nora = smtp_server.to("nora@example.net")[0]
    assert nora["Subject"] == "Nora, save the library"
    assert nora["To"] == "Nora North <nora@example.net>"
    assert nora["From"] == "Clarion HQ <hq@clarion.example.org>"
    assert "Dear Nora," in body_text(nora)
    assert "We need you in City Ward" in body_html(nora)
    assert nora["Message-ID"] and nora["Date"] and nora["MIME-Version"] == "1.0"
    assert nora.get_content_type() == "multipart/alternative"
    assert set(Recipient.objects.filter(mailing=mailing).values_list("status", flat=True)) == {
        "sent"
    }
    assert mailing.recipient_count == 3


def test_merge_fields_are_escaped_in_html(
    admin, areas, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.core.testing import factories

    p = factories.person(
        postcode=areas.postcodes["north"], first_name="<script>x</script>", email="x@example.net"
    )
    email_status_set(person=p, status=EmailStatus.SUBSCRIBED)
    send_and_work(make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks)
    html = body_html(smtp_server.wait_for(1)[0])
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_organiser_mails_only_their_area(
    organiser, areas, subscribed, smtp_server, from_addresses, django_capture_on_commit_callbacks
):
    from clarion.people.models import Segment

    # A segment made in the North that would match everyone, South included.
    segment = Segment.objects.create(
        name="All", definition={"op": "all", "conditions": []}, owner_area=areas.north
    )
    send_and_work(make_mailing(organiser, segment), organiser, django_capture_on_commit_callbacks)
    received = sorted(a for m in smtp_server.wait_for(2) for a in m.envelope_to)
    assert received == ["nell@example.net", "nora@example.net"]


def test_unsubscribed_and_suppressed_people_are_not_mailed(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    mailing = make_mailing(admin, everyone)
    with django_capture_on_commit_callbacks(execute=True):
        from clarion.mailings import services

        services.mailing_send(mailing=mailing, actor=admin)
    # The ledger is frozen first; then, before any mail leaves, Sid unsubscribes and
    # Nell's address is put on the suppression list (e.g. erased elsewhere).
    from clarion.mailings.services import mailing_start_now

    mailing_start_now(mailing_id=mailing.pk)
    assert Recipient.objects.filter(mailing=mailing).count() == 3
    email_status_set(person=subscribed["sid"], status=EmailStatus.UNSUBSCRIBED)
    Suppression.objects.create(email_hash=email_hash("nell@example.net"), reason="erased")
    run_tasks(django_capture_on_commit_callbacks)

    assert [a for m in smtp_server.wait_for(1) for a in m.envelope_to] == ["nora@example.net"]
    sid = Recipient.objects.get(mailing=mailing, person=subscribed["sid"])
    nell = Recipient.objects.get(mailing=mailing, person=subscribed["nell"])
    assert (sid.status, sid.reason) == ("suppressed", "Email status is unsubscribed.")
    assert (nell.status, nell.reason) == ("suppressed", "The address is on the suppression list.")


class FlakyHandler:
    """An SMTP server that refuses some recipients: 550 permanently, 451 once."""

    def __init__(self, received):
        self.received = received
        self.tempfailed = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("sid@"):
            return "550 5.1.1 No such user here"
        if address.startswith("nell@") and address not in self.tempfailed:
            self.tempfailed.add(address)
            return "451 4.7.1 Greylisted, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Accepted"


@pytest.fixture
def flaky_smtp(settings):
    from aiosmtpd.controller import Controller

    from clarion.core.testing.smtp import _free_port

    received: list = []
    handler = FlakyHandler(received)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield received
    controller.stop()


def test_5xx_fails_with_the_servers_reason_and_4xx_is_retried(
    admin, subscribed, everyone, flaky_smtp, django_capture_on_commit_callbacks
):
    mailing = send_and_work(
        make_mailing(admin, everyone), admin, django_capture_on_commit_callbacks
    )
    sid = Recipient.objects.get(mailing=mailing, person=subscribed["sid"])
    nell = Recipient.objects.get(mailing=mailing, person=subscribed["nell"])
    assert sid.status == "failed" and "550 5.1.1 No such user here" in sid.reason
    assert (
        nell.status == "queued" and "451" in nell.reason and nell.next_attempt_at > timezone.now()
    )
    assert mailing.status == Mailing.Status.SENDING  # not finished while a retry is due

    # The retry falls due; the watcher starts a sender, which delivers it.
    Recipient.objects.filter(pk=nell.pk).update(next_attempt_at=timezone.now())
    from clarion.mailings.models import SendSlot
    from clarion.mailings.tasks import mailing_watch

    SendSlot.objects.filter(mailing=mailing).update(heartbeat_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        mailing_watch.enqueue(mailing.pk)
    run_tasks(django_capture_on_commit_callbacks)
    nell.refresh_from_db()
    mailing.refresh_from_db()
    assert nell.status == "sent"
    assert mailing.status == Mailing.Status.SENT
    delivered = sorted(to[0] for to, _ in flaky_smtp)
    assert delivered == ["nell@example.net", "nora@example.net"]


def test_rows_left_in_flight_by_a_dead_sender_become_uncertain_and_are_not_resent(
    admin, subscribed, everyone, smtp_server, settings, django_capture_on_commit_callbacks
):
    from clarion.mailings.services import mailing_send, mailing_start_now

    mailing = make_mailing(admin, everyone)
    with django_capture_on_commit_callbacks(execute=False):
        mailing_send(mailing=mailing, actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        mailing_start_now(mailing_id=mailing.pk)  # senders are queued, not yet run
    # A sender claims everything and marks one row in flight, then dies (its
    # heartbeat goes stale).
    assert deliver.slot_take(mailing.pk, 0, "deadbeef")
    rows = deliver.claim(mailing.pk, "deadbeef", 10)
    nora_row = next(r for r in rows if r[2] == "nora@example.net")
    allowed = deliver.mark_in_flight(
        Mailing.objects.get(pk=mailing.pk), "deadbeef", [nora_row[0]], [nora_row[1]]
    )
    assert allowed == {nora_row[0]}
    from clarion.mailings.models import SendSlot

    SendSlot.objects.filter(mailing=mailing, number=0).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )

    assert deliver.recover(mailing.pk) == (2, 1)
    run_tasks(django_capture_on_commit_callbacks)
    nora = Recipient.objects.get(pk=nora_row[0])
    assert nora.status == "uncertain" and "may have been delivered" in nora.reason
    assert sorted(a for m in smtp_server.wait_for(2) for a in m.envelope_to) == [
        "nell@example.net",
        "sid@example.net",
    ]
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT


def test_pause_stops_and_resume_finishes(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.mailings import services

    mailing = make_mailing(admin, everyone)
    with django_capture_on_commit_callbacks(execute=True):
        services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    assert services.mailing_pause(mailing=mailing, actor=admin)
    run_tasks(django_capture_on_commit_callbacks)
    assert smtp_server.wait_for(1, timeout=0.5) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert services.mailing_resume(mailing=mailing, actor=admin)
    run_tasks(django_capture_on_commit_callbacks)
    assert len(smtp_server.wait_for(3)) == 3
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SENT


def test_cancel_before_delivery_sends_nothing(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.mailings import services

    mailing = make_mailing(admin, everyone)
    with django_capture_on_commit_callbacks(execute=True):
        services.mailing_send(mailing=mailing, actor=admin)
    services.mailing_start_now(mailing_id=mailing.pk)
    assert services.mailing_cancel(mailing=mailing, actor=admin) == 3
    run_tasks(django_capture_on_commit_callbacks)
    assert smtp_server.wait_for(1, timeout=0.5) == []
    assert set(Recipient.objects.filter(mailing=mailing).values_list("status", flat=True)) == {
        "cancelled"
    }


def test_throttle_limits_messages_per_second(admin, subscribed, everyone):
    granted = [deliver.throttle_take("mailing:test", 2, 5) for _ in range(3)]
    assert granted[0] == 2 and sum(granted) <= 4


def test_scheduled_mailing_waits_for_its_time(
    admin, subscribed, everyone, smtp_server, django_capture_on_commit_callbacks
):
    from clarion.mailings import services

    mailing = make_mailing(admin, everyone)
    when = timezone.now() + timezone.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.mailing_send(mailing=mailing, actor=admin, when=when)
    run_tasks(django_capture_on_commit_callbacks)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.SCHEDULED and smtp_server.wait_for(1, timeout=0.3) == []
    assert Activity.objects.filter(kind="email").count() == 0
