"""``clarion engagement_recompute``: rebuild every engagement score from the timeline."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from clarion.engagement.services import recompute


class Command(BaseCommand):
    help = "Rebuild every engagement score from the timeline (set-based, one transaction)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        count = recompute()
        seconds = time.perf_counter() - started
        self.stdout.write(f"Scored {count} people in {seconds:.1f} s.")
