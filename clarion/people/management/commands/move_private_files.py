"""``clarion move_private_files``: after upgrading, move import files out of MEDIA_ROOT."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from clarion.people.imports.files import private_files_move


class Command(BaseCommand):
    help = (
        "Move import uploads and reject files stored by an older Clarion under MEDIA_ROOT "
        "(where the media route serves them) into the private storage, under random "
        "names. Safe to run again: files already moved are left alone."
    )

    def handle(self, *args, **options):
        result = private_files_move()
        self.stdout.write(
            _(
                "Moved %(moved)s import file(s) and %(unreferenced)s file(s) no import "
                "refers to; %(private)s already private; %(missing)s missing."
            )
            % {
                "moved": result.moved,
                "unreferenced": result.unreferenced,
                "private": result.already_private,
                "missing": result.missing,
            }
        )
