"""``clarion webhooks_retry``: queue every webhook delivery that is due.

With the database or RQ task backends a failed delivery re-queues itself for later
(``run_after``), so this is a safety net (a queue that was down, a worker killed
mid-POST). With the immediate backend, which cannot defer, run it from cron: it then
makes the attempts itself.
"""

from django.core.management.base import BaseCommand

from clarion.api.webhooks import deliveries_due, delivery_enqueue


class Command(BaseCommand):
    help = "Queue webhook deliveries that are due (new, retrying, or abandoned by a worker)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit: int = 500, **options):
        due = deliveries_due(limit)
        for delivery_id in due:
            delivery_enqueue(delivery_id)
        self.stdout.write(f"queued={len(due)}")
