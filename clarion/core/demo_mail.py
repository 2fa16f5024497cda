"""The demo's email backend: print each message as the console backend does, and keep
a copy in the database for the staff Outbox page.

The backend whenever no mail server is configured (``EMAIL_BACKEND`` in the
settings); it keeps copies only when ``CLARION_DEMO`` is on, so a newcomer can read the confirmation, receipt
or mailing they just triggered without digging through the server log.
"""

from __future__ import annotations

import logging
from email import message_from_bytes, policy

from django.conf import settings
from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend

KEEP = 500
logger = logging.getLogger("clarion.demo_mail")


def _parts(raw: bytes) -> dict[str, str]:
    parsed = message_from_bytes(raw, policy=policy.default)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return {
        "from_email": str(parsed.get("From", ""))[:320],
        "to": ", ".join(str(v) for v in parsed.get_all("To", [])),
        "subject": str(parsed.get("Subject", ""))[:500],
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
    }


def demo_mail_record(raw: bytes) -> None:
    """Keep one sent message (its raw bytes) and drop all but the latest ``KEEP``."""
    from django.db import transaction

    from .models import DemoMail

    # A savepoint: a failure here must not break the caller's transaction.
    with transaction.atomic():
        DemoMail.objects.create(**_parts(raw))
        stale = DemoMail.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)
        DemoMail.objects.filter(pk__in=list(stale[KEEP:])).delete()


class ConsoleBackend(DjangoConsoleBackend):
    def send_messages(self, email_messages) -> int:
        sent = super().send_messages(email_messages)
        if not settings.DEMO:
            return sent
        for message in email_messages or []:
            try:
                demo_mail_record(message.message().as_bytes())
            except Exception:  # noqa: BLE001 - the outbox is a convenience; the mail went
                logger.exception("Could not keep a copy of a demo email")
        return sent
