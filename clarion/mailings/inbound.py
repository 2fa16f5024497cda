"""Mail coming back: delivery status notifications (RFC 3464), complaint feedback
reports (ARF, RFC 5965) and mailto unsubscribes (List-Unsubscribe).

Who a message is about is read ONLY from signed tokens: the VERP envelope recipient
(``bounces+<id>-<hmac>@``), or for ARF reports the token in the original message's
Return-Path or List-Unsubscribe header. A forged or altered token matches no one, so
it suppresses no one.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import close_old_connections, connections

from .models import Recipient
from .sending import tokens

log = logging.getLogger(__name__)

_VERP_IN_TEXT = re.compile(r"bounces\+\d+-[0-9a-f]+@", re.I)
_R_TOKEN = re.compile(r"[?&]r=(\d+\.[0-9a-f]+)")


@dataclass
class Outcome:
    kind: str  # bounce | complaint | unsubscribe | ignored
    recipient_id: int | None = None
    detail: str = ""


def _recipient(rid: int | None) -> Recipient | None:
    if rid is None:
        return None
    return Recipient.objects.select_related("mailing", "person").filter(pk=rid).first()


def _text(part) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    if isinstance(part.get_payload(), list):
        return "\n".join(str(p) for p in part.get_payload())
    return str(part.get_payload() or "")


def _delivery_status(message) -> list[dict]:
    """Per-recipient fields of a multipart/report; report-type=delivery-status."""
    blocks: list[dict] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        groups = payload if isinstance(payload, list) else []
        if not groups:
            text = _text(part)
            groups = [
                email.message_from_string(chunk)
                for chunk in re.split(r"\r?\n\r?\n", text)
                if chunk.strip()
            ]
        for group in groups:
            if group.get("Action") or group.get("Status"):
                blocks.append(
                    {
                        "action": str(group.get("Action", "")).strip().lower(),
                        "status": str(group.get("Status", "")).strip(),
                        "diagnostic": str(group.get("Diagnostic-Code", "")).strip(),
                        "final_recipient": str(group.get("Final-Recipient", "")).strip(),
                    }
                )
    return blocks


def _original_token(message) -> int | None:
    """The recipient named by a signed token inside a report's original message."""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype not in ("message/rfc822", "text/rfc822-headers"):
            continue
        text = (
            _text(part)
            if ctype == "text/rfc822-headers"
            else str(
                part.get_payload()[0]
                if isinstance(part.get_payload(), list)
                else part.get_payload()
            )
        )
        for match in _VERP_IN_TEXT.finditer(text):
            start = match.start()
            rid = tokens.recipient_id_from_verp(text[start : match.end()] + "x")
            if rid is not None:
                return rid
        for token in _R_TOKEN.findall(text):
            rid = tokens.recipient_id_from_token(token)
            if rid is not None:
                return rid
    return None


def process(*, rcpt_tos: list[str], content: bytes) -> list[Outcome]:
    """Act on one received message; returns what was done (for logs and tests)."""
    from . import services

    message = email.message_from_bytes(content, policy=email.policy.compat32)
    ctype = message.get_content_type()
    report_type = (
        (message.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    )
    outcomes: list[Outcome] = []

    if report_type == "feedback-report":
        rid = _original_token(message)
        recipient = _recipient(rid)
        if recipient is None:
            return [Outcome("ignored", detail="complaint names no recipient we signed")]
        services.complaint_record(recipient=recipient, detail="ARF feedback report")
        return [Outcome("complaint", recipient.pk)]

    for rcpt in rcpt_tos:
        local = rcpt.split("@", 1)[0].lower()
        if local.startswith("unsubscribe+"):
            rid = tokens.recipient_id_from_verp(
                tokens.VERP_PREFIX + local[len("unsubscribe+") :] + "@x"
            )
            recipient = _recipient(rid)
            if recipient is None:
                outcomes.append(Outcome("ignored", detail="unsubscribe token does not verify"))
                continue
            services.recipient_unsubscribe(recipient=recipient, how="mailto")
            outcomes.append(Outcome("unsubscribe", recipient.pk))
            continue
        rid = tokens.recipient_id_from_verp(rcpt)
        recipient = _recipient(rid)
        if recipient is None:
            outcomes.append(Outcome("ignored", detail="bounce address does not verify"))
            continue
        if report_type != "delivery-status":
            outcomes.append(Outcome("ignored", recipient.pk, "not a delivery status notification"))
            continue
        for block in _delivery_status(message):
            if block["action"] not in ("failed", "delayed"):
                continue
            status = block["status"]
            if status.startswith("5"):
                hard = True
            elif status.startswith("4"):
                hard = False
            else:
                continue
            result = services.bounce_record(
                recipient=recipient, hard=hard, status_code=status, diagnostic=block["diagnostic"]
            )
            outcomes.append(
                Outcome("bounce", recipient.pk, f"{'hard' if hard else 'soft'} {status} {result}")
            )
            break
        else:
            if not any(o.recipient_id == recipient.pk for o in outcomes):
                outcomes.append(
                    Outcome("ignored", recipient.pk, "no failed delivery in the report")
                )
    return outcomes


def _process_unit(*, rcpt_tos: list[str], content: bytes) -> list[Outcome]:
    """One received message as one unit of work, like a request: a connection past
    CONN_MAX_AGE or broken (database restarted) is replaced before and after."""
    close_old_connections()
    try:
        return process(rcpt_tos=rcpt_tos, content=content)
    finally:
        close_old_connections()


class Handler:
    """aiosmtpd handler: accepts mail for the VERP domain only, then processes it.

    Messages are processed one at a time in the handler's own worker thread, which
    holds the receiver's database connection; call ``close()`` after the controller
    has stopped to close that connection and end the thread.
    """

    def __init__(self, domain: str):
        self.domain = domain.lower()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clarion-inbound")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rpartition("@")[2].lower() != self.domain:
            return "550 5.1.1 Not a mailbox of this receiver"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        work = functools.partial(
            _process_unit, rcpt_tos=list(envelope.rcpt_tos), content=envelope.content
        )
        try:
            outcomes = await asyncio.get_running_loop().run_in_executor(self._worker, work)
        except Exception:
            log.exception("inbound: processing failed")
            return "451 4.3.0 Processing failed, try again later"
        for o in outcomes:
            log.info("inbound: %s %s %s", o.kind, o.recipient_id, o.detail)
        return "250 OK"

    def close(self) -> None:
        """Close the worker thread's database connection, then end the thread."""
        self._worker.submit(connections.close_all).result()
        self._worker.shutdown(wait=True)
