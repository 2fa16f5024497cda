"""``clarion journey_import file.json --as admin@example.org``: a draft journey from
an exported file, validated as the staff pages validate it; each problem is a line."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from clarion.core.models import User
from clarion.journeys.services import journey_import


class Command(BaseCommand):
    help = "Create a draft journey from a JSON file made by journey_export."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument(
            "--as",
            dest="as_user",
            required=True,
            help="The staff user (email) who owns it; an organiser's journey is in their area.",
        )

    def handle(self, *args, path, as_user, **options):
        user = User.objects.filter(email__iexact=as_user, is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active staff user {as_user}.")
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}.") from None
        try:
            journey = journey_import(data=data, actor=user)
        except ValidationError as exc:
            raise CommandError(
                "The journey was not imported:\n" + "\n".join(exc.messages)
            ) from None
        except PermissionDenied:
            raise CommandError(f"{as_user} may not create journeys.") from None
        self.stdout.write(f"Imported journey {journey.pk} “{journey.name}” as a draft.")
