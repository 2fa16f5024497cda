"""``clarion journey_export ID > file.json``: a journey's current version as JSON."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from clarion.journeys.models import Journey
from clarion.journeys.services import journey_export


class Command(BaseCommand):
    help = "Write a journey (its current version) as JSON to standard output."

    def add_arguments(self, parser):
        parser.add_argument("journey_id", type=int)

    def handle(self, *args, journey_id, **options):
        journey = Journey.objects.filter(pk=journey_id).first()
        if journey is None:
            raise CommandError(f"There is no journey {journey_id}.")
        self.stdout.write(json.dumps(journey_export(journey), indent=2, ensure_ascii=False))
