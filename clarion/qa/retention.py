"""What live Q&A tells the retention policy (``people.retention``): asking or voting
inside the window is activity; IP address hashes on questions go after their period.
Bans keep their hashes: a ban is a deliberate decision, lifted by a moderator."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from clarion.people import retention

from .models import Question, Vote

retention.keeper_register(
    "qa.questions",
    reason=retention.ACTIVITY,
    rows=lambda c: Question.objects.filter(created_at__gte=c.active_since),
)
retention.keeper_register(
    "qa.votes",
    reason=retention.ACTIVITY,
    rows=lambda c: Vote.objects.filter(created_at__gte=c.active_since),
)
retention.cleaner_register(
    "qa.ip_hash",
    label=_("IP address hashes on questions"),
    rows=lambda c: Question.objects.filter(created_at__lt=c.ip_hash_before).exclude(ip_hash=""),
    clean=lambda rows: rows.update(ip_hash=""),
)
