"""``clarion person_erase --email E --yes``: erase a person for good (right to erasure)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clarion.people.services import person_erase

from .person_export import find_person_by_email


class Command(BaseCommand):
    help = (
        "Erase one person and everything every app holds about them, keeping only a hash "
        "of their email on the suppression list. Audited. Needs --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--email", required=True, help="Their email address (primary or other)."
        )
        parser.add_argument("--yes", action="store_true", help="Really erase (there is no undo).")

    def handle(self, *args, email: str, yes: bool = False, **options):
        person = find_person_by_email(email)
        if not yes:
            raise CommandError(
                f"This would erase person #{person.pk} for good. Run again with --yes to do it."
            )
        hashes = person_erase(person=person, actor=None)
        self.stdout.write(
            f"Erased person #{person.pk}; {len(hashes)} address(es) kept on the suppression list as hashes."
        )
