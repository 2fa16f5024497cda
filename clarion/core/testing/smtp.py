"""A real SMTP server on loopback for tests that send mail (aiosmtpd).

Use the ``smtp_server`` fixture (registered from an app's tests/conftest.py with
``from clarion.core.testing.smtp import smtp_server  # noqa: F401``): it starts
aiosmtpd's Controller on 127.0.0.1 on a free port, points Django's SMTP backend at
it, and yields an object whose ``messages`` list holds every message received, parsed
with the standard library (``email.message.EmailMessage``), with ``envelope_to``.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    messages: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, n: int, timeout: float = 5.0) -> list:
        """Wait until at least ``n`` messages arrived (SMTP delivery is synchronous
        for Django's backend, so this rarely waits); return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list:
        with self.lock:
            return [
                m for m in self.messages if address.lower() in [a.lower() for a in m.envelope_to]
            ]


class _Handler:
    def __init__(self, received: Received):
        self.received = received

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message.envelope_to = list(envelope.rcpt_tos)
        with self.received.lock:
            self.received.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    from aiosmtpd.controller import Controller

    received = Received()
    port = _free_port()
    controller = Controller(_Handler(received), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    try:
        yield received
    finally:
        controller.stop()


def body_text(message) -> str:
    """The plain-text part of a received message."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def body_html(message) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""
