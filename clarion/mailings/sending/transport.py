"""Sending message bytes: a persistent SMTP connection that knows how far each
transaction got, so the caller can tell "not delivered, retry" from "maybe delivered".

``send`` returns an Outcome:
- ``sent``: the server answered 250 to the end of DATA;
- ``retry``: a 4xx answer, or the connection failed before the message data was
  sent (nothing can have been delivered);
- ``failed``: a 5xx answer (the reason is the server's);
- ``uncertain``: the connection dropped after the data was sent and before the reply
  — the message may have been delivered, so it must not be sent again.
"""

from __future__ import annotations

import collections
import re
import select
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

SENT, RETRY, FAILED, UNCERTAIN = "sent", "retry", "failed", "uncertain"
SMTP_BACKENDS = (
    "django.core.mail.backends.smtp.EmailBackend",
    "clarion.mailings.sending.backend.EmailBackend",
)


@dataclass(frozen=True)
class Outcome:
    kind: str
    reason: str = ""


@dataclass(eq=False)
class Job:
    """One message for one recipient, sent through a ``Pool``. ``outcome`` is set (and
    ``done`` fired) once the transaction's fate is known."""

    mail_from: str
    rcpt: str
    data: bytes
    key: object = None  # the caller's handle (a ledger row id)
    outcome: Outcome | None = None
    done: threading.Event = field(default_factory=threading.Event)
    payload_sent: bool = False

    def finish(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.set()


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}"[:300]


def _classify(code: int, message) -> Outcome:
    if 400 <= code < 500 or code == -1:
        return Outcome(RETRY, _reply(code, message))
    return Outcome(FAILED, _reply(code, message))


_DOT = re.compile(rb"(?m)^\.")


class SMTPTransport:
    """One SMTP connection, opened on first use and kept open between messages."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        timeout: float = 30,
        use_tls: bool = False,
        use_ssl: bool = False,
        user: str = "",
        password: str = "",
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self.use_tls, self.use_ssl, self.user, self.password = use_tls, use_ssl, user, password
        self.conn: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        if self.conn is None:
            cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            conn = cls(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.use_tls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if self.user:
                conn.login(self.user, self.password)
            self.conn = conn
        return self.conn

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def _reset(self) -> None:
        try:
            if self.conn is not None:
                self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def send(self, *, mail_from: str, rcpt: str, data: bytes) -> Outcome:
        try:
            conn = self._open()
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            return Outcome(RETRY, f"connect: {exc}"[:300])
        if any(c in mail_from + rcpt for c in "<>\r\n "):
            return Outcome(FAILED, "invalid address")
        if conn.has_extn("pipelining"):
            return self._send_pipelined(conn, mail_from, rcpt, data)
        data_sent = False
        try:
            code, resp = conn.mail(mail_from)
            if code != 250:
                self._reset() if code != 421 else self._drop()
                return _classify(code, resp)
            code, resp = conn.rcpt(rcpt)
            if code not in (250, 251):
                self._reset() if code != 421 else self._drop()
                return _classify(code, resp)
            code, resp = conn.docmd("data")
            if code != 354:
                self._reset() if code != 421 else self._drop()
                return _classify(code, resp)
            payload = _DOT.sub(b"..", data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            data_sent = True
            conn.send(payload + b".\r\n")
            code, resp = conn.getreply()
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            if data_sent:
                return Outcome(UNCERTAIN, f"connection lost after the message data: {exc}"[:300])
            return Outcome(RETRY, f"connection lost: {exc}"[:300])
        if code == 250:
            return Outcome(SENT)
        if code == 421:
            self._drop()
        return _classify(code, resp)

    def _send_pipelined(
        self, conn: smtplib.SMTP, mail_from: str, rcpt: str, data: bytes
    ) -> Outcome:
        """RFC 2920: MAIL, RCPT and DATA in one write, then the message: two round
        trips per message instead of four."""
        data_sent = False
        try:
            conn.send(f"MAIL FROM:<{mail_from}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
            mail_code, mail_resp = conn.getreply()
            rcpt_code, rcpt_resp = conn.getreply()
            data_code, data_resp = conn.getreply()
            if mail_code != 250 or rcpt_code not in (250, 251) or data_code != 354:
                if data_code == 354:
                    # DATA was accepted although the envelope was not: end it empty.
                    conn.send(b".\r\n")
                    conn.getreply()
                if 421 in (mail_code, rcpt_code, data_code):
                    self._drop()
                else:
                    self._reset()
                if mail_code != 250:
                    return _classify(mail_code, mail_resp)
                if rcpt_code not in (250, 251):
                    return _classify(rcpt_code, rcpt_resp)
                return _classify(data_code, data_resp)
            payload = _DOT.sub(b"..", data)
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            data_sent = True
            conn.send(payload + b".\r\n")
            code, resp = conn.getreply()
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            if data_sent:
                return Outcome(UNCERTAIN, f"connection lost after the message data: {exc}"[:300])
            return Outcome(RETRY, f"connection lost: {exc}"[:300])
        if code == 250:
            return Outcome(SENT)
        if code == 421:
            self._drop()
        return _classify(code, resp)


def _payload(data: bytes) -> bytes:
    payload = _DOT.sub(b"..", data)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    return payload + b".\r\n"


class _Pipe:
    """One SMTP connection driven without waiting (RFC 2920 PIPELINING).

    Each message costs one round trip: the end of message k's data and the envelope
    (MAIL, RCPT, DATA) of message k+1 go out in one write, and the caller renders the
    next message while the answers travel. At most two jobs ride on a connection: one
    whose data was sent (waiting for the final answer) and one whose envelope was sent
    (waiting for 354). ``pending`` is a job assigned here whose envelope has not been
    written yet; it goes out with the next data write.
    """

    def __init__(self, opener):
        self.opener = opener
        self.smtp: smtplib.SMTP | None = None
        self.sock = None
        self.buf = b""
        self.expect: collections.deque = collections.deque()  # (job, kind)
        self.env_job: Job | None = None  # envelope written, 354 not yet seen
        self.pending: Job | None = None
        self.codes: dict = {}
        self.last_io = 0.0

    # -- state ---------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return bool(self.expect) or self.pending is not None

    @property
    def can_take(self) -> bool:
        return self.pending is None

    def open(self) -> bool:
        if self.smtp is not None:
            return True
        self.smtp = self.opener()
        if not self.smtp.has_extn("pipelining"):
            return False
        self.sock = self.smtp.sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        return True

    def drop(self, reason: str) -> list[Job]:
        """The connection is gone: settle every job riding on it. Returns them."""
        settled = []
        for job, _kind in list(self.expect):
            if job not in settled:
                settled.append(job)
        if self.pending is not None:
            settled.append(self.pending)
        for job in settled:
            if job.payload_sent:
                job.finish(
                    Outcome(UNCERTAIN, f"connection lost after the message data: {reason}"[:300])
                )
            else:
                job.finish(Outcome(RETRY, f"connection lost: {reason}"[:300]))
        self.expect.clear()
        self.env_job = self.pending = None
        self.codes = {}
        smtp, self.smtp, self.sock = self.smtp, None, None
        if smtp is not None:
            smtp.close()
        return settled

    def close(self) -> None:
        if self.smtp is not None and not self.busy:
            try:
                self.sock.sendall(b"QUIT\r\n")
            except OSError:
                pass
        self.drop("closed")

    # -- writing -------------------------------------------------------------------

    def _envelope(self, job: Job) -> bytes:
        self.env_job = job
        self.codes[id(job)] = {}
        self.expect.extend(((job, "mail"), (job, "rcpt"), (job, "data")))
        return f"MAIL FROM:<{job.mail_from}>\r\nRCPT TO:<{job.rcpt}>\r\nDATA\r\n".encode()

    def _write(self, chunk: bytes) -> None:
        self.sock.sendall(chunk)
        self.last_io = time.monotonic()

    def assign(self, job: Job) -> None:
        """Take ``job``: write its envelope now if the line is free, else keep it for
        the next data write. Raises OSError if the connection fails."""
        if self.env_job is None:
            self._write(self._envelope(job))
        else:
            self.pending = job

    # -- reading -------------------------------------------------------------------

    def _replies(self):
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                return
            # A reply ends with a line whose fourth character is a space.
            lines, pos, done = [], 0, False
            while True:
                end = self.buf.find(b"\n", pos)
                if end < 0:
                    break
                line = self.buf[pos:end].rstrip(b"\r")
                lines.append(line)
                pos = end + 1
                if len(line) < 4 or line[3:4] != b"-":
                    done = True
                    break
            if not done:
                return
            self.buf = self.buf[pos:]
            try:
                code = int(lines[-1][:3])
            except ValueError:
                code = -1
            yield code, b"\n".join(line[4:] for line in lines)

    def readable(self) -> bool:
        """Read what the server sent; returns False if the connection closed."""
        try:
            chunk = self.sock.recv(65536)
        except ssl.SSLWantReadError:
            return True
        except (TimeoutError, OSError) as exc:
            self.drop(str(exc))
            return False
        if not chunk:
            self.drop("the server closed the connection")
            return False
        self.last_io = time.monotonic()
        self.buf += chunk
        try:
            self._handle()
        except (TimeoutError, OSError) as exc:
            self.drop(str(exc))
            return False
        return True

    def _handle(self) -> None:
        out: list[bytes] = []
        for code, message in self._replies():
            if not self.expect:
                continue  # an unsolicited reply (e.g. a 421 on shutdown): the read fails next
            job, kind = self.expect.popleft()
            if kind == "discard":
                continue
            if kind == "end":
                if code == 250:
                    job.finish(Outcome(SENT))
                else:
                    job.finish(_classify(code, message))
                if code == 421:
                    raise OSError(_reply(code, message))
                continue
            self.codes[id(job)][kind] = (code, message)
            if kind != "data":
                continue
            codes = self.codes.pop(id(job))
            mail, rcpt, data = codes["mail"], codes["rcpt"], codes["data"]
            self.env_job = None
            if mail[0] == 250 and rcpt[0] in (250, 251) and data[0] == 354:
                out.append(_payload(job.data))
                job.payload_sent = True
                self.expect.append((job, "end"))
            else:
                if data[0] == 354:
                    # DATA was accepted although the envelope was not: end it empty.
                    out.append(b".\r\n")
                    self.expect.append((job, "discard"))
                if mail[0] != 250:
                    job.finish(_classify(*mail))
                elif rcpt[0] not in (250, 251):
                    job.finish(_classify(*rcpt))
                else:
                    job.finish(_classify(*data))
                if 421 in (mail[0], rcpt[0], data[0]):
                    raise OSError(job.outcome.reason)
                out.append(b"RSET\r\n")
                self.expect.append((job, "discard"))
            if self.pending is not None:
                nxt, self.pending = self.pending, None
                out.append(self._envelope(nxt))
            if out:
                self._write(b"".join(out))
                out = []
        if out:
            self._write(b"".join(out))


class Pool:
    """A small pool of persistent SMTP connections for one process, shared by bulk
    sending and transactional mail.

    One thread at a time drives the pool (``driving``): a bulk sender for the length
    of its run, or a transactional send when no bulk send is running. Another thread's
    ``send_urgent`` is queued in the priority lane; the driver serves it before the
    next bulk message, so a receipt waits for at most one message per connection
    rather than for the rest of a mailing.

    Without PIPELINING at the server (or with a non-SMTP email backend) every message
    is sent synchronously, one transaction after another.
    """

    def __init__(
        self,
        *,
        host: str = "",
        port: int = 25,
        timeout: float = 30,
        use_tls: bool = False,
        use_ssl: bool = False,
        user: str = "",
        password: str = "",
        size: int = 1,
        backend=None,
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self.use_tls, self.use_ssl, self.user, self.password = use_tls, use_ssl, user, password
        self.size = max(1, size)
        self.backend = backend  # a non-SMTP transport (BackendTransport)
        self.pipes = [_Pipe(self._connect) for _ in range(self.size)]
        self.plain: SMTPTransport | None = None  # fallback for servers without PIPELINING
        self.lock = threading.Lock()
        self.urgent: collections.deque = collections.deque()
        self.driving = False
        self.driver: int | None = None

    def config(self) -> dict:
        """Arguments for another pool to the same server."""
        if self.backend is not None:
            return {"backend": BackendTransport()}
        return {
            "host": self.host,
            "port": self.port,
            "timeout": self.timeout,
            "use_tls": self.use_tls,
            "use_ssl": self.use_ssl,
            "user": self.user,
            "password": self.password,
            "size": self.size,
        }

    def _connect(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        conn = cls(self.host, self.port, timeout=self.timeout)
        conn.ehlo()
        if self.use_tls:
            conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
        if self.user:
            conn.login(self.user, self.password)
        return conn

    def _sync(self):
        if self.backend is not None:
            return self.backend
        if self.plain is None:
            self.plain = SMTPTransport(
                host=self.host,
                port=self.port,
                timeout=self.timeout,
                use_tls=self.use_tls,
                use_ssl=self.use_ssl,
                user=self.user,
                password=self.password,
            )
        return self.plain

    # -- driving ---------------------------------------------------------------------

    def acquire(self) -> bool:
        """Become the pool's driver (False: another thread drives it)."""
        with self.lock:
            if self.driving:
                return False
            self.driving, self.driver = True, threading.get_ident()
            return True

    def release(self) -> None:
        """Stop driving: finish every message in flight, serve the priority lane until
        it is empty, close the connections."""
        while True:
            self.drain()
            self.close()
            with self.lock:
                if not self.urgent:
                    self.driving, self.driver = False, None
                    return

    def send_urgent(
        self, *, mail_from: str, rcpt: str, data: bytes, wait: float | None = None
    ) -> Outcome:
        """Send one message ahead of any bulk mail this process is sending. Safe from
        any thread. Blocks until the outcome is known."""
        job = Job(mail_from=mail_from, rcpt=rcpt, data=data)
        me = threading.get_ident()
        with self.lock:
            queued = self.driving and self.driver != me
            mine = not self.driving
            if queued:
                self.urgent.append(job)
            elif mine:
                self.driving, self.driver = True, me
        if queued:
            if job.done.wait(wait if wait is not None else self.timeout * 4):
                return job.outcome
            with self.lock:
                if job in self.urgent:
                    self.urgent.remove(job)
                    return Outcome(RETRY, "the bulk sender did not take the message in time")
            job.done.wait()
            return job.outcome
        try:
            self.submit(job)
            self.drain()
        finally:
            if mine:
                self.release()
        return job.outcome

    # -- sending ---------------------------------------------------------------------

    def _take_urgent(self) -> Job | None:
        if not self.urgent:
            return None
        with self.lock:
            return self.urgent.popleft() if self.urgent else None

    def submit(self, job: Job) -> None:
        """Start sending ``job`` (urgent messages queued by other threads go first).
        Returns once it is written or queued on a connection; its outcome is known
        after ``drain`` (or earlier)."""
        while (urgent := self._take_urgent()) is not None:
            self._submit(urgent)
        self._submit(job)

    def _submit(self, job: Job) -> None:
        if any(c in job.mail_from + job.rcpt for c in "<>\r\n "):
            job.finish(Outcome(FAILED, "invalid address"))
            return
        if self.backend is not None or self.plain is not None:
            job.finish(self._sync().send(mail_from=job.mail_from, rcpt=job.rcpt, data=job.data))
            return
        while True:
            free = [p for p in self.pipes if p.can_take]
            idle = [p for p in free if not p.busy]
            pipe = (idle or free or [None])[0]
            if pipe is not None:
                break
            self._wait()
        try:
            if not pipe.open():
                pipe.drop("no pipelining")
                job.finish(self._sync().send(mail_from=job.mail_from, rcpt=job.rcpt, data=job.data))
                return
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            pipe.drop(str(exc))
            job.finish(Outcome(RETRY, f"connect: {exc}"[:300]))
            return
        try:
            pipe.assign(job)
        except (TimeoutError, OSError) as exc:
            pipe.drop(str(exc))
        self._poll(0)

    def _wait(self) -> None:
        self._poll(self.timeout)

    def _poll(self, timeout: float) -> None:
        """Handle whatever answers have arrived (waiting up to ``timeout`` for one)."""
        live = [p for p in self.pipes if p.sock is not None and p.expect]
        if not live:
            return
        ready = [p for p in live if isinstance(p.sock, ssl.SSLSocket) and p.sock.pending()]
        if not ready:
            try:
                ready, _, _ = select.select([p.sock for p in live], [], [], timeout)
            except (OSError, ValueError):
                ready = []
            ready = [p for p in live if p.sock in ready]
        if not ready and timeout:
            for p in live:
                if time.monotonic() - p.last_io >= self.timeout:
                    p.drop("timed out waiting for the server")
            return
        for p in ready:
            p.readable()

    def pump(self, timeout: float) -> None:
        """Serve the priority lane and handle the answers that arrive within ``timeout``."""
        while (urgent := self._take_urgent()) is not None:
            self._submit(urgent)
        self._poll(timeout)

    def wait_for(self, jobs: list[Job]) -> None:
        """Wait until each of ``jobs`` has its outcome (later jobs keep moving)."""
        while any(job.outcome is None for job in jobs):
            self.pump(self.timeout)

    @property
    def busy(self) -> bool:
        return any(p.busy for p in self.pipes)

    def drain(self) -> None:
        """Wait until every submitted message has its outcome (serving the priority lane)."""
        while True:
            while (urgent := self._take_urgent()) is not None:
                self._submit(urgent)
            if not any(p.busy for p in self.pipes):
                return
            self._wait()

    def close(self) -> None:
        for p in self.pipes:
            p.close()
        if self.plain is not None:
            self.plain.close()
            self.plain = None
        if self.backend is not None:
            self.backend.close()

    # -- the one-message interface (``make_transport`` callers) ---------------------------

    def send(self, *, mail_from: str, rcpt: str, data: bytes) -> Outcome:
        return self.send_urgent(mail_from=mail_from, rcpt=rcpt, data=data)


class BackendTransport:
    """Hands raw bytes to Django's configured email backend (console in the demo,
    locmem, or an email provider through django-anymail)."""

    def __init__(self):
        from django.core.mail import get_connection

        self.connection = get_connection()

    def send(self, *, mail_from: str, rcpt: str, data: bytes) -> Outcome:
        import email

        from django.core.mail import EmailMessage

        class Raw(EmailMessage):
            def message(self, policy=None):  # noqa: ARG002
                return email.message_from_bytes(data)

        try:
            sent = self.connection.send_messages([Raw(from_email=mail_from, to=[rcpt])])
        except Exception as exc:  # a provider's API error: try again later
            return Outcome(RETRY, str(exc)[:300])
        return Outcome(SENT) if sent else Outcome(RETRY, "backend did not accept the message")

    def close(self) -> None:
        self.connection.close()


_POOLS: dict[tuple, Pool] = {}
_POOLS_LOCK = threading.Lock()


def _smtp_settings() -> dict | None:
    if settings.EMAIL_BACKEND in SMTP_BACKENDS and settings.EMAIL_HOST:
        return {
            "host": settings.EMAIL_HOST,
            "port": settings.EMAIL_PORT,
            "timeout": getattr(settings, "EMAIL_TIMEOUT", None) or 30,
            "use_tls": getattr(settings, "EMAIL_USE_TLS", False),
            "use_ssl": getattr(settings, "EMAIL_USE_SSL", False),
            "user": getattr(settings, "EMAIL_HOST_USER", ""),
            "password": getattr(settings, "EMAIL_HOST_PASSWORD", ""),
        }
    return None


def shared_pool() -> Pool:
    """This process's pool for the configured server (bulk and transactional mail
    share it). A non-SMTP email backend gets a private, synchronous pool."""
    smtp = _smtp_settings()
    if smtp is None:
        return Pool(backend=BackendTransport())
    size = int(getattr(settings, "CLARION_MAILINGS_CONNECTIONS", 1) or 1)
    key = (*sorted(smtp.items()), size)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = Pool(size=size, **smtp)
    return pool


def make_transport():
    """One message at a time over a fresh connection (test sends)."""
    smtp = _smtp_settings()
    if smtp is not None:
        return SMTPTransport(**smtp)
    return BackendTransport()
