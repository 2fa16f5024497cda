"""A loopback SMTP server (aiosmtpd) that advertises PIPELINING, as Postfix does, and
can be made slow, so tests drive the pipelined transport the way production does."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from clarion.core.testing.smtp import _free_port


class PipeliningSink:
    def __init__(self, *, delay: float = 0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, str, object]] = []  # (time, rcpt, parsed message)
        self.peers: dict[str, object] = {}  # rcpt -> the client's address (which connection)
        self.refuse: dict[str, str] = {}  # rcpt -> reply to RCPT
        self.drop_after_data: set[str] = set()  # rcpt: close the connection instead of 250

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        rcpts = list(envelope.rcpt_tos)
        if any(r in self.drop_after_data for r in rcpts):
            server.transport.abort()  # the data arrived; the answer never does
            return "250 OK"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for r in rcpts:
                self.arrivals.append((time.monotonic(), r, message))
                self.peers[r] = session.peer
        return "250 OK"

    def rcpts(self) -> list[str]:
        with self.lock:
            return [r for _, r, _ in self.arrivals]

    def wait_for(self, n: int, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.rcpts()
            if len(got) >= n:
                return got
            time.sleep(0.01)
        return self.rcpts()


@contextmanager
def pipelining_sink(
    settings, *, delay: float = 0.0, backend: str = "django.core.mail.backends.smtp.EmailBackend"
):
    sink = PipeliningSink(delay=delay)
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = backend
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    try:
        yield sink
    finally:
        controller.stop()
