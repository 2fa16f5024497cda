from django.core.management.base import BaseCommand

from clarion.events.services import reminders_queue


class Command(BaseCommand):
    help = (
        "Queue the event reminders and follow-ups that are due (run it from cron every few minutes; "
        "each email goes out once per person however often it runs)."
    )

    def handle(self, *args, **options):
        queued = reminders_queue()
        self.stdout.write(f"queued={queued}")
