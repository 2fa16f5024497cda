"""``clarion person_export --email E``: print everything held about a person as JSON."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from clarion.people.normalise import InvalidEmail, normalise_email
from clarion.people.services import person_export_record, person_find


def find_person_by_email(value: str):
    try:
        email = normalise_email(value)
    except InvalidEmail:
        raise CommandError(f"Not a valid email address: {value!r}") from None
    person = person_find(email=email) if email else None
    if person is None:
        raise CommandError("No person has that email address.")
    return person


class Command(BaseCommand):
    help = "Export everything Clarion holds about one person (subject access) as JSON. Audited."

    def add_arguments(self, parser):
        parser.add_argument(
            "--email", required=True, help="Their email address (primary or other)."
        )
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, email: str, output: str | None = None, **options):
        person = find_person_by_email(email)
        data = person_export_record(person=person, actor=None)
        text = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            self.stderr.write(f"Wrote person #{person.pk} to {output}")
        else:
            self.stdout.write(text)
