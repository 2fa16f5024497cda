"""Background work for mailings. Every task takes ids and may run twice without harm.

- ``mailing_start``: freeze the ledger (once) and start the senders.
- ``mailing_deliver``: one sender slot works the ledger until nothing is claimable,
  or for ``CLARION_MAILINGS_SLICE_SECONDS``; then it enqueues its own continuation, so
  tasks queued meanwhile (confirmations, receipts, reminders) get a worker within a
  slice rather than after the whole mailing. Works the same on the database and RQ
  backends (the slot, not the queue, guarantees one sender per slot).
- ``mailing_watch``: every few seconds while a mailing is live: settles rows of dead
  senders, restarts a dead sender's slot, picks the A/B winner when due, and marks
  the mailing sent when every row is final. It re-enqueues itself (``run_after``).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

WATCH_SECONDS = 5


@task()
def mailing_start(mailing_id: int) -> str:
    from . import services

    return services.mailing_start_now(mailing_id=mailing_id)


@task()
def mailing_deliver(mailing_id: int, slot: int) -> str:
    from .sending.deliver import Sender

    return Sender(mailing_id, slot).run()


@task()
def mailing_watch(mailing_id: int) -> str:
    from . import services

    again = services.mailing_watch_once(mailing_id=mailing_id)
    if again and mailing_watch.get_backend().supports_defer:
        from django.conf import settings

        seconds = getattr(settings, "CLARION_MAILINGS_WATCH_SECONDS", WATCH_SECONDS)
        mailing_watch.using(run_after=timezone.now() + timedelta(seconds=seconds)).enqueue(
            mailing_id
        )
        return "watching"
    return "done"
