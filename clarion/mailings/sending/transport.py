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

import re
import smtplib
import ssl
from dataclasses import dataclass

from django.conf import settings

SENT, RETRY, FAILED, UNCERTAIN = "sent", "retry", "failed", "uncertain"


@dataclass(frozen=True)
class Outcome:
    kind: str
    reason: str = ""


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

    def __init__(self, *, host: str, port: int, timeout: float = 30, use_tls: bool = False,
                 use_ssl: bool = False, user: str = "", password: str = ""):
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


    def _send_pipelined(self, conn: smtplib.SMTP, mail_from: str, rcpt: str, data: bytes) -> Outcome:
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


def make_transport():
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend" and settings.EMAIL_HOST:
        return SMTPTransport(
            host=settings.EMAIL_HOST, port=settings.EMAIL_PORT,
            timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 30,
            use_tls=getattr(settings, "EMAIL_USE_TLS", False), use_ssl=getattr(settings, "EMAIL_USE_SSL", False),
            user=getattr(settings, "EMAIL_HOST_USER", ""), password=getattr(settings, "EMAIL_HOST_PASSWORD", ""),
        )
    return BackendTransport()
