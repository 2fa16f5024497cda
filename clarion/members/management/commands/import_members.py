"""``clarion import_members members.csv``: memberships from another system.

The CSV has a header row with the columns ``email``, ``membership number``, ``type
name``, ``renews_on`` (YYYY-MM-DD, or DD/MM/YYYY) and ``status`` (active, grace,
lapsed, cancelled, pending). Each person must already be in the database (import
people first). Every row is checked and written in its own transaction, so a row is
either stored whole or not at all; each bad row is reported by its line number with
what is wrong, and the command exits with status 1 if any row was refused. With
``--dry-run`` nothing is written (every row is still checked, inside a transaction
that is rolled back).
"""

from __future__ import annotations

import csv
import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clarion.core.models import AuditEntry
from clarion.core.services import audit_record
from clarion.members.membership import membership_import_row
from clarion.members.models import Membership, MembershipType
from clarion.people.normalise import InvalidEmail, normalise_email
from clarion.people.services import person_find

COLUMNS = ("email", "membership number", "type name", "renews_on", "status")


class _DryRun(Exception):
    pass


def _date(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValidationError(f"renews_on {value!r} is not a date (use YYYY-MM-DD).")


def _row(row: dict[str, str], types: dict[str, MembershipType]) -> dict:
    """The row's values, checked; raises ValidationError listing what is wrong."""
    problems = []
    email = (row.get("email") or "").strip()
    try:
        normalised = normalise_email(email) if email else ""
    except InvalidEmail:
        normalised = ""
    person = person_find(email=normalised) if normalised else None
    if not email:
        problems.append("email is empty")
    elif not normalised:
        problems.append(f"{email!r} is not an email address")
    elif person is None:
        problems.append(f"no person has the email {email!r} (import people first)")
    raw_number = (row.get("membership number") or "").strip()
    number = None
    if raw_number.isdigit() and 0 < int(raw_number) < 10**15:
        number = int(raw_number)
    else:
        problems.append(f"membership number {raw_number!r} is not a whole number above 0")
    type_name = (row.get("type name") or "").strip()
    membership_type = types.get(type_name.casefold())
    if membership_type is None:
        problems.append(f"no membership type is called {type_name!r}")
    status = (row.get("status") or "").strip().lower()
    if status not in Membership.Status.values:
        problems.append(f"status {status!r} is not one of {', '.join(Membership.Status.values)}")
    renews_on = None
    try:
        renews_on = _date(row.get("renews_on") or "")
    except ValidationError as exc:
        problems.extend(exc.messages)
    if problems:
        raise ValidationError(problems)
    return {
        "person": person,
        "membership_type": membership_type,
        "number": number,
        "renews_on": renews_on,
        "status": status,
    }


class Command(BaseCommand):
    help = "Import memberships from a CSV (email, membership number, type name, renews_on, status)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV file (UTF-8, header row)")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")

    def handle(self, *args, path: str, dry_run: bool = False, **options):
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
                header = [c.strip().lower() for c in (rows[0].keys() if rows else [])]
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{path} is not a UTF-8 CSV file: {exc}") from None
        if not rows:
            raise CommandError(f"{path} has no rows under its header.")
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise CommandError(f"{path} lacks the column(s): {', '.join(missing)}.")
        types = {t.name.casefold(): t for t in MembershipType.objects.all()}
        stored = refused = 0
        for line, raw in enumerate(rows, start=2):
            row = {(k or "").strip().lower(): (v or "") for k, v in raw.items()}
            try:
                with transaction.atomic():
                    membership_import_row(**_row(row, types))
                    if dry_run:
                        raise _DryRun
            except _DryRun:
                stored += 1
            except ValidationError as exc:
                refused += 1
                self.stderr.write(f"line {line}: " + "; ".join(exc.messages))
            else:
                stored += 1
        if not dry_run and stored:
            audit_record(
                actor=None,
                action=AuditEntry.Action.IMPORT,
                summary=f"Memberships imported from a CSV: {stored} stored, {refused} refused",
                object_type="membership_import",
                detail={"stored": stored, "refused": refused},
            )
        verb = "would be stored" if dry_run else "stored"
        self.stdout.write(f"{stored} {verb}, {refused} refused")
        if refused:
            raise SystemExit(1)
