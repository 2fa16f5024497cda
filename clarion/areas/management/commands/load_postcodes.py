from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clarion.areas.services import postcodes_load_csv


class Command(BaseCommand):
    help = "Load postcodes from a CSV with columns postcode,latitude,longitude,area_code."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        result = postcodes_load_csv(text=text)
        for error in result.errors[:50]:
            self.stderr.write(error)
        if len(result.errors) > 50:
            self.stderr.write(f"... and {len(result.errors) - 50} more bad lines")
        self.stdout.write(
            f"created {result.created}, updated {result.updated}, rejected {len(result.errors)}"
        )
