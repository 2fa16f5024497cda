from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clarion.areas.services import areas_load_csv


class Command(BaseCommand):
    help = "Load the area tree from a CSV with columns code,name,kind,parent_code."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        result = areas_load_csv(text=text)
        if result.errors:
            for error in result.errors:
                self.stderr.write(error)
            raise CommandError("No areas were loaded; fix the lines above and run again.")
        self.stdout.write(f"created {result.created}, updated {result.updated}")
