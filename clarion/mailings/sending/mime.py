"""Building a bulk message's bytes by hand, fast and standard.

The stdlib ``email`` generator costs more per message than the whole SMTP
transaction, so the message is assembled here: RFC 5322 headers (non-ASCII encoded as
RFC 2047 words), ``multipart/alternative`` with quoted-printable UTF-8 text and HTML
parts, CRLF line ends. The boundary contains ``=_``, which quoted-printable output can
never contain, so it cannot collide with the body.
"""

from __future__ import annotations

import binascii
import time
from email.header import Header
from email.utils import formataddr, formatdate

_date_cache: tuple[int, str] = (0, "")


def header_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, localtime=False))
    return _date_cache[1]


def encode_header(value: str) -> str:
    value = value.replace("\r", " ").replace("\n", " ")
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def address(name: str, addr: str) -> str:
    name = (name or "").replace("\r", " ").replace("\n", " ")
    return formataddr((name, addr), charset="utf-8")


def _qp(text: str) -> bytes:
    data = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return data.replace(b"\n", b"\r\n")


def build(*, headers: list[tuple[str, str]], text: str, html: str, boundary: str) -> bytes:
    """The message bytes: ``headers`` (already encoded), then the two parts."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += (
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    return b"".join(
        (
            head.encode("ascii"),
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode(),
            _qp(text),
            f"\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode(),
            _qp(html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


class DKIMSigner:
    """Signs with dkimpy; List-Unsubscribe and List-Unsubscribe-Post are covered."""

    HEADERS = [
        b"from",
        b"to",
        b"subject",
        b"date",
        b"message-id",
        b"reply-to",
        b"mime-version",
        b"content-type",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
    ]

    def __init__(self, *, key: bytes, selector: str, domain: str):
        self.key, self.selector, self.domain = key, selector.encode(), domain.encode()

    def sign(self, message: bytes) -> bytes:
        import dkim

        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            include_headers=self.HEADERS,
            canonicalize=(b"relaxed", b"simple"),
        )
        if not signature.endswith(b"\r\n"):
            signature = signature.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
        return signature + message


def dkim_signer() -> DKIMSigner | None:
    from django.conf import settings

    path = settings.CLARION_MAILINGS_DKIM_KEY_FILE
    if not path:
        return None
    with open(path, "rb") as fh:
        key = fh.read()
    domain = settings.CLARION_MAILINGS_DKIM_DOMAIN
    if not domain:
        from email.utils import parseaddr

        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    return DKIMSigner(key=key, selector=settings.CLARION_MAILINGS_DKIM_SELECTOR, domain=domain)
