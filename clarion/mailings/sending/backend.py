"""A Django email backend for transactional mail (confirmations, receipts, reminders)
that goes through the same SMTP pool as bulk mailings, ahead of them.

``EMAIL_BACKEND = "clarion.mailings.sending.backend.EmailBackend"`` with ``EMAIL_HOST``
set. In a process that is sending a mailing, a message sent from another thread is put
in the pool's priority lane and goes out before the next bulk message; elsewhere (a
web process) it is sent at once over a pool connection. Without ``EMAIL_HOST`` the
console backend is used, as in the demo.
"""

from __future__ import annotations

import smtplib
from email.utils import parseaddr

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address

from . import transport


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        if not email_messages:
            return 0
        if not settings.EMAIL_HOST:
            from django.core.mail.backends.console import EmailBackend as Console

            return Console(fail_silently=self.fail_silently).send_messages(email_messages)
        pool = transport.shared_pool()
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            encoding = message.encoding or settings.DEFAULT_CHARSET
            mail_from = parseaddr(sanitize_address(message.from_email, encoding))[1]
            data = message.message().as_bytes(linesep="\r\n")
            refused = []
            for rcpt in recipients:
                outcome = pool.send_urgent(
                    mail_from=mail_from,
                    rcpt=parseaddr(sanitize_address(rcpt, encoding))[1],
                    data=data,
                )
                if outcome.kind != transport.SENT:
                    refused.append(outcome.reason)
            if refused and not self.fail_silently:
                raise smtplib.SMTPException("; ".join(refused))
            sent += not refused
        return sent
