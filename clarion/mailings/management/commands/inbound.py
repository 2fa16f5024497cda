"""``clarion inbound``: the SMTP (or LMTP) receiver for bounces, complaints and
mailto unsubscribes sent to the VERP domain."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Receive bounces (DSN), complaints (ARF) and mailto unsubscribes for the VERP domain."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host", default=None, help="Address to listen on (CLARION_MAILINGS_INBOUND_HOST)."
        )
        parser.add_argument(
            "--port", type=int, default=None, help="Port (CLARION_MAILINGS_INBOUND_PORT)."
        )
        parser.add_argument(
            "--lmtp", action="store_true", help="Speak LMTP (behind Postfix or another MTA)."
        )

    def handle(self, *args, host=None, port=None, lmtp=False, **options):
        from aiosmtpd.controller import Controller

        from clarion.mailings.inbound import Handler

        host = host or settings.CLARION_MAILINGS_INBOUND_HOST
        port = port or settings.CLARION_MAILINGS_INBOUND_PORT
        handler = Handler(settings.CLARION_MAILINGS_VERP_DOMAIN)

        class LMTPController(Controller):
            def factory(self):
                from aiosmtpd.lmtp import LMTP

                return LMTP(self.handler, **self.SMTP_kwargs)

        cls = LMTPController if lmtp else Controller
        controller = cls(handler, hostname=host, port=port, data_size_limit=10 * 1024 * 1024)
        controller.start()
        self.stdout.write(
            f"Receiving {'LMTP' if lmtp else 'SMTP'} for @{settings.CLARION_MAILINGS_VERP_DOMAIN} "
            f"on {host}:{port}",
            ending="\n",
        )
        self.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        stop.wait()
        controller.stop()
        handler.close()
