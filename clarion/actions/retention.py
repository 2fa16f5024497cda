"""What action pages tell the retention policy (``people.retention``): a counted
action is activity; unconfirmed double-opt-in actions and IP address hashes are
removed once past their own periods."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clarion.people import retention

from .models import Submission

# A pending action is not counted: the mailbox owner may never have seen it. (Its
# timeline entry still counts as activity, so cleaning it changes nobody's fate.)
retention.keeper_register(
    "actions.submissions",
    reason=retention.ACTIVITY,
    rows=lambda c: Submission.objects.filter(created_at__gte=c.active_since).exclude(
        status=Submission.Status.PENDING
    ),
)
retention.cleaner_register(
    "actions.unconfirmed",
    label=_("Unconfirmed actions (double opt-in never confirmed)"),
    rows=lambda c: Submission.objects.filter(
        status=Submission.Status.PENDING, created_at__lt=c.unconfirmed_before
    ),
    clean=retention.delete_rows,
)
retention.cleaner_register(
    "actions.ip_hash",
    label=_("IP address hashes on actions"),
    # Not the rows the cleaner above deletes anyway: the preview counts each once.
    rows=lambda c: (
        Submission.objects.filter(created_at__lt=c.ip_hash_before)
        .exclude(ip_hash="")
        .exclude(status=Submission.Status.PENDING, created_at__lt=c.unconfirmed_before)
    ),
    clean=lambda rows: rows.update(ip_hash=""),
)
