from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from clarion.core.models import User
from clarion.people.imports.export import SegmentsUnavailable, people_export_stream
from clarion.people.selectors import access_segment


class Command(BaseCommand):
    help = (
        "Export people to CSV as a staff user would see them (scoped to that user's area; "
        "audited). Formula-like cells are neutralised."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as", dest="actor", required=True, help="Email of the staff user the export runs as."
        )
        parser.add_argument(
            "--segment", type=int, default=None, help="Export only this segment's people (id)."
        )
        parser.add_argument(
            "-o", "--output", default="-", help="File to write (default: standard output)."
        )

    def handle(self, *args, actor: str, segment: int | None, output: str, **options):
        user = User.objects.filter(email__iexact=actor, is_active=True).first()
        if user is None:
            raise CommandError(f"No active staff user {actor}")
        seg = None
        if segment is not None:
            from django.http import Http404

            try:
                seg = access_segment(user, segment)
            except Http404:
                raise CommandError(f"{actor} has no segment {segment}") from None
        try:
            lines = people_export_stream(user=user, segment=seg)
        except SegmentsUnavailable as exc:
            raise CommandError(str(exc)) from exc
        handle = sys.stdout if output == "-" else open(output, "w", encoding="utf-8", newline="")
        written = 0
        try:
            for line in lines:
                handle.write(line)
                written += 1
        finally:
            if handle is not sys.stdout:
                handle.close()
        if output != "-":
            self.stderr.write(f"exported {max(written - 1, 0)} people to {output}")
