"""``clarion seed_people --count N [--tags T] [--seed S]``: synthetic supporters, fast.

Made for demos and benchmarks: believable names, addresses spread over the loaded
postcodes (the demo areas and postcodes are loaded first when there are none), about
ten tags each out of T (a few popular, many niche), some custom field values, and a
realistic mix of subscription and membership statuses. Addresses are on the reserved
example.com/.org/.net domains and phone numbers in Ofcom's drama range, so nothing
seeded can ever be mailed or called for real.

On PostgreSQL the rows go in with COPY. The load runs in one transaction that, for
its duration, drops the secondary indexes and foreign keys of people_person and
people_tagging and rebuilds them at the end (a bulk index build is many times faster
than 2M row-by-row inserts into GIN and btree indexes), and disables the tagging
triggers because ``tag_ids`` is written directly (the person insert trigger stays on:
it derives ``facts``, the segment index array, from the copied columns). This takes
exclusive locks on both tables: use it on a demo or benchmark database, not on a live
one under load. Any failure rolls everything back. On SQLite it uses bulk_create.

Ids, emails, share codes and membership numbers are numbered from past the highest
existing person id (and carry a seed-only shape), so they never collide with rows
already there, including earlier seeds.
"""

from __future__ import annotations

import array
import bisect
import datetime
import itertools
import json
import random
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED, Max
from django.utils import timezone

from clarion.areas.models import Area, Postcode
from clarion.areas.services import areas_load_csv, postcodes_load_csv
from clarion.people.models import CustomField, Person, Tag, Tagging

FIXTURES = Path(__file__).resolve().parents[3] / "areas" / "fixtures"

FIRST_NAMES = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily Ella "
    "Poppy Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice Harper Matilda Ruby "
    "Noah Oliver George Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie Jack Charlie "
    "Theo Alfie Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy Alexander Luca Edward "
    "James Joshua Albie Elijah Max Mohammed Reggie Hudson Ethan Sebastian Priya Aisha Fatima Zara Anika "
    "Sean Siobhan Niamh Ciaran Rhys Dylan Cerys Megan Gareth Sian Ewan Morag Hamish Catriona Ade Chidi"
).split()
LAST_NAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson Evans Walker "
    "White Roberts Green Hall Thomas Clarke Jackson Wood Harris Edwards Turner Martin Cooper Hill Ward "
    "Hughes Moore Clark King Harrison Lewis Baker Lee Allen Morris Khan Scott Watson Davis Parker James "
    "Bennett Young Phillips Richardson Mitchell Bailey Carter Cook Singh Shaw Bell Collins Morgan Kelly "
    "Begum Miller Cox Marshall Simpson Anderson Ellis Adams Wilkinson Ward Foster Mason Chapman Powell "
    "Webb Rogers Gray Mills Murphy Hunt Holmes Palmer Campbell Owen Rahman Hussain Okafor Mensah Nowak "
    "Kowalski MacDonald Reid Fraser Murray Lloyd Price Pritchard Jenkins Byrne Doyle Quinn Walsh Ali"
).split()
STREETS = (
    "High Street,Station Road,Church Lane,Victoria Road,Park Avenue,Mill Lane,Queens Road,"
    "Kings Road,New Street,Green Lane,Manor Road,Albert Road,London Road,Springfield Road,"
    "York Road,Windsor Close,Orchard Way,Chapel Street,Market Place,Castle Street"
).split(",")
DOMAINS = ("example.com", "example.org", "example.net")
SOURCES = ("web", "petition", "event", "canvass", "import", "referral", "donation", "")

ISSUES = (
    "NHS,Housing,Climate,Schools,Transport,Jobs,Cost of living,Water,Local parks,Social care,"
    "Energy bills,Buses,Libraries,Youth services,High street,Flooding,Rail,Renters,Childcare,"
    "Pensions,Disability rights,Air quality,Potholes,Green belt,Fair pay"
).split(",")
ROLES = (
    "supporter,petition signer,volunteer,donor,event attendee,leafleter,canvasser,newsletter reader"
).split(",")

EMAIL_STATUSES = (
    ("subscribed", 60),
    ("none", 15),
    ("unsubscribed", 15),
    ("bouncing", 6),
    ("complained", 4),
)
MEMBERSHIP = (("none", 70), ("active", 20), ("lapsed", 8), ("cancelled", 2))
SEED_FIELDS = (
    (
        "volunteer_interest",
        "Volunteer interest",
        CustomField.Kind.CHOICE,
        ["Canvassing", "Phone banking", "Leafleting", "Events", "Data entry", "Social media"],
    ),
    ("birth_year", "Year of birth", CustomField.Kind.NUMBER, []),
    ("gift_aid", "Gift Aid", CustomField.Kind.BOOLEAN, []),
    ("first_contact", "First contact", CustomField.Kind.DATE, []),
    ("employer", "Employer", CustomField.Kind.TEXT, []),
)
EMPLOYERS = (
    "NHS",
    "Council",
    "Tesco",
    "University",
    "Self-employed",
    "School",
    "Retired",
    "Civil Service",
)


def tag_names(count: int) -> list[str]:
    names = [f"{issue} {role}" for role in ROLES for issue in ISSUES]
    extra = (f"Campaign {n}" for n in itertools.count(1))
    while len(names) < count:
        names.append(next(extra))
    return names[:count]


def _weighted(choices):
    values = [v for v, _ in choices]
    cum = list(itertools.accumulate(w for _, w in choices))
    return values, cum


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "country",
    "area_id",
    "latitude",
    "longitude",
    "custom_fields",
    "email_status",
    "email_status_reason",
    "email_status_changed_at",
    "membership_number",
    "membership_status",
    "joined_on",
    "renews_on",
    "recruiter_id",
    "source_code",
    "share_code",
    "created_at",
    "modified_at",
)
NULL = "\\N"


class Generator:
    """Makes one person's column values, as COPY text, from an index ``n`` that is
    unique across seeds. Written for speed (millions of calls): plain ``random()``
    arithmetic and cached date strings instead of ``choice``/``datetime`` per row."""

    def __init__(self, *, rng: random.Random, postcodes, tag_ids, fields, now: datetime.datetime):
        self.random = rng.random
        self.postcodes = [
            (pc, str(area) if area else NULL, repr(lat), repr(lng))
            for pc, area, lat, lng in postcodes
        ]
        self.tag_ids = tag_ids
        # Zipf-like popularity: a few tags most people have, a long tail of niche ones.
        self.tag_cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.7 for i in range(len(tag_ids))))
        self.fields = fields
        self.now_s = int(now.timestamp())
        self.today = now.date()
        self.email_values, self.email_cum = _weighted(EMAIL_STATUSES)
        self.member_values, self.member_cum = _weighted(MEMBERSHIP)
        self.span = 5 * 365 * 86400
        self._days: dict[int, str] = {}
        self.addresses = [f"{number} {street}" for street in STREETS for number in range(1, 251)]

    def _day(self, day: int) -> str:
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = (
                datetime.date(1970, 1, 1) + datetime.timedelta(days=day)
            ).isoformat()
        return text

    def _ts(self, seconds: int) -> str:
        day, sec = divmod(seconds, 86400)
        return f"{self._day(day)} {sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}+00"

    def row(self, n: int) -> tuple[list[str], list[int], str]:
        """(COPY text of COLUMNS, sorted tag ids, created_at text) for person ``n``."""
        r = self.random
        first = FIRST_NAMES[int(r() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(r() * len(LAST_NAMES))]
        created_s = self.now_s - int(r() * self.span)
        modified_s = created_s + int(r() * (self.now_s - created_s))
        created = self._ts(created_s)
        created_day = created_s // 86400
        pc = (
            self.postcodes[int(r() * len(self.postcodes))] if self.postcodes and r() < 0.9 else None
        )
        has_email = r() < 0.93
        email_status = (
            self.email_values[bisect.bisect(self.email_cum, r() * self.email_cum[-1])]
            if has_email
            else "none"
        )
        membership = self.member_values[bisect.bisect(self.member_cum, r() * self.member_cum[-1])]
        custom = []
        for key, kind, choices in self.fields:
            if r() < 0.45:
                if kind == CustomField.Kind.CHOICE:
                    value = f'"{choices[int(r() * len(choices))]}"'
                elif kind == CustomField.Kind.NUMBER:
                    value = str(1935 + int(r() * 73))
                elif kind == CustomField.Kind.BOOLEAN:
                    value = "true" if r() < 0.6 else "false"
                elif kind == CustomField.Kind.DATE:
                    value = f'"{self._day(created_day - int(r() * 3000))}"'
                else:
                    value = f'"{EMPLOYERS[int(r() * len(EMPLOYERS))]}"'
                custom.append(f'"{key}": {value}')
        tags: list[int] = []
        if self.tag_ids:
            cum, total, ids = self.tag_cum, self.tag_cum[-1], self.tag_ids
            tags = sorted({ids[bisect.bisect(cum, r() * total)] for _ in range(int(r() * 21))})
        if membership != "none":
            joined_day = created_day - int(r() * 2000)
            years = 1 + (self.now_s // 86400 - joined_day) // 365
            joined, renews = self._day(joined_day), self._day(joined_day + 365 * years)
            number = f"SEED{n:010d}"
        else:
            joined = renews = number = NULL
        values = [
            first,
            last,
            f"{first}.{last}.{n}@{DOMAINS[n % 3]}".lower() if has_email else NULL,
            f"+447700900{int(r() * 1000):03d}" if r() < 0.4 else "",
            self.addresses[int(r() * len(self.addresses))] if pc else "",
            "",
            "",
            pc[0] if pc else "",
            "GB",
            pc[1] if pc else NULL,
            pc[2] if pc else NULL,
            pc[3] if pc else NULL,
            "{" + ", ".join(custom) + "}",
            email_status,
            "",
            created if email_status != "none" else NULL,
            number,
            membership,
            joined,
            renews,
            NULL,
            SOURCES[int(r() * len(SOURCES))],
            "z" + _base36(n).rjust(11, "0"),
            created,
            self._ts(modified_s),
        ]
        return values, tags, created


def _copy_text(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    elif isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Command(BaseCommand):
    help = "Create N synthetic people fast (COPY on PostgreSQL), for demos and benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="How many people to create.")
        parser.add_argument(
            "--tags", type=int, default=200, help="How many tags to spread over them (default 200)."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed, for repeatable data."
        )

    def handle(self, *args, count: int, tags: int, seed: int | None, **options):
        if count < 1 or count > 50_000_000:
            raise CommandError("--count must be between 1 and 50,000,000.")
        if tags < 0 or tags > 10_000:
            raise CommandError("--tags must be between 0 and 10,000.")
        started = time.monotonic()
        self._verbosity = options.get("verbosity", 1)
        self._started = started
        self._ensure_areas()
        tag_ids = self._ensure_tags(tags)
        fields = self._ensure_fields()
        postcodes = list(
            Postcode.objects.values_list("postcode", "area_id", "latitude", "longitude")
        )
        gen = Generator(
            rng=random.Random(seed),
            postcodes=postcodes,
            tag_ids=tag_ids,
            fields=fields,
            now=timezone.now(),
        )
        if connection.vendor == "postgresql":
            taggings = self._seed_postgres(gen, count)
        else:
            taggings = self._seed_orm(gen, count)
        self.stdout.write(
            f"Created {count:,} people with {taggings:,} taggings over {len(tag_ids)} tags "
            f"in {time.monotonic() - started:.1f}s."
        )

    # --- reference data ------------------------------------------------------------

    def _ensure_areas(self) -> None:
        if Postcode.objects.exists():
            return
        with transaction.atomic():
            if not Area.objects.exists():
                result = areas_load_csv(text=(FIXTURES / "demo_areas.csv").read_text())
                if result.errors:
                    raise CommandError("; ".join(result.errors))
            result = postcodes_load_csv(text=(FIXTURES / "demo_postcodes.csv").read_text())
        self.stdout.write(f"Loaded {result.created} demo postcodes.")

    def _ensure_tags(self, count: int) -> list[int]:
        names = tag_names(count)
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
        wanted = {name.lower() for name in names}
        ids = {t.name.lower(): t.pk for t in Tag.objects.all() if t.name.lower() in wanted}
        return [ids[name.lower()] for name in names]

    def _ensure_fields(self) -> list[tuple[str, str, list]]:
        fields = []
        for key, label, kind, choices in SEED_FIELDS:
            field, _ = CustomField.objects.get_or_create(
                key=key, defaults={"label": label, "kind": kind, "choices": choices}
            )
            if field.kind == kind and (
                kind != CustomField.Kind.CHOICE or set(choices) <= set(field.choices)
            ):
                fields.append((key, kind, choices))
        return fields

    # --- loading -------------------------------------------------------------------

    def _extra_columns(self) -> tuple[list[str], list[str]]:
        """Person columns this command does not generate (added later by other apps),
        with the COPY text of their default."""
        columns, values = [], []
        for field in Person._meta.concrete_fields:
            if field.primary_key or field.column in COLUMNS or field.db_default is not NOT_PROVIDED:
                continue
            value = field.get_db_prep_save(field.get_default(), connection)
            columns.append(field.column)
            values.append(_copy_text(getattr(value, "adapted", value)))
        return columns, values

    def _start_id(self, cursor, count: int) -> int:
        cursor.execute("SELECT pg_get_serial_sequence('people_person', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute("LOCK TABLE people_person IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM people_person")
        start = cursor.fetchone()[0] + 1
        cursor.execute("SELECT setval(%s, %s)", [sequence, start + count - 1])
        return start

    def _drop_rebuildables(self, cursor, table: str) -> list[str]:
        """Drop ``table``'s foreign keys, unique constraints and secondary indexes;
        return the statements that recreate them."""
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
            "AND NOT i.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))",
            [table],
        )
        indexes = cursor.fetchall()
        qn = connection.ops.quote_name
        rebuild = []
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
            rebuild.append(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
        for name, definition in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
            rebuild.append(definition)
        # Unique constraints first (FKs elsewhere may need them), then indexes, then FKs.
        rebuild.sort(
            key=lambda sql: (
                2
                if "FOREIGN KEY" in sql
                else (0 if "UNIQUE" in sql and "ADD CONSTRAINT" in sql else 1)
            )
        )
        return rebuild

    def _seed_postgres(self, gen: Generator, count: int) -> int:
        extra_columns, extra = self._extra_columns()
        tail = "".join("\t" + value for value in extra)
        qn = connection.ops.quote_name
        columns = ", ".join(qn(c) for c in (*COLUMNS, *extra_columns))
        chunk = 20_000
        taggings = 0
        with transaction.atomic(), connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cursor.execute("SET LOCAL synchronous_commit = off")
            # Run any deferred foreign-key checks queued earlier in this transaction now:
            # PostgreSQL refuses to alter a table that still has pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            start = self._start_id(cursor, count)
            rebuild = self._drop_rebuildables(cursor, "people_tagging")
            rebuild += self._drop_rebuildables(cursor, "people_person")
            cursor.execute("ALTER TABLE people_tagging DISABLE TRIGGER USER")
            # People first; their tags wait in a compact array until the tagging COPY.
            tag_person = array.array("q")
            tag_id = array.array("q")
            created_at: dict[int, str] = {}
            with cursor.copy(f"COPY people_person (id, {columns}, tag_ids) FROM STDIN") as copy:
                buf = []
                for i in range(count):
                    n = start + i
                    values, tags, created = gen.row(n)
                    buf.append(
                        f"{n}\t"
                        + "\t".join(values)
                        + tail
                        + "\t{"
                        + ",".join(map(str, tags))
                        + "}\n"
                    )
                    if tags:
                        tag_person.extend([n] * len(tags))
                        tag_id.extend(tags)
                        created_at[n] = created
                    if len(buf) >= chunk:
                        copy.write("".join(buf))
                        buf.clear()
                        self._progress("people", i + 1, count)
                if buf:
                    copy.write("".join(buf))
            taggings = len(tag_id)
            self.stdout.write(
                f"Copying {taggings:,} taggings… ({time.monotonic() - self._started:.0f}s)"
            )
            with cursor.copy(
                "COPY people_tagging (person_id, tag_id, created_at) FROM STDIN"
            ) as copy:
                for offset in range(0, taggings, chunk * 10):
                    copy.write(
                        "".join(
                            f"{p}\t{t}\t{created_at[p]}\n"
                            for p, t in zip(
                                tag_person[offset : offset + chunk * 10],
                                tag_id[offset : offset + chunk * 10],
                                strict=True,
                            )
                        )
                    )
            del tag_person, tag_id, created_at
            self.stdout.write(
                f"Rebuilding {len(rebuild)} indexes and constraints… ({time.monotonic() - self._started:.0f}s)"
            )
            for sql in rebuild:
                t0 = time.monotonic()
                cursor.execute(sql)
                if self._verbosity > 1:
                    self.stdout.write(f"  {time.monotonic() - t0:6.1f}s {sql[:90]}")
            cursor.execute("ALTER TABLE people_tagging ENABLE TRIGGER USER")
        return taggings

    def _seed_orm(self, gen: Generator, count: int) -> int:
        taggings = 0
        chunk = 2_000
        fields = {f.column: f for f in Person._meta.concrete_fields}
        with transaction.atomic():
            start = (Person.objects.aggregate(m=Max("id"))["m"] or 0) + 1
            for offset in range(0, count, chunk):
                people, links = [], []
                for i in range(offset, min(count, offset + chunk)):
                    n = start + i
                    values, tags, created = gen.row(n)
                    data = {}
                    for column, text in zip(COLUMNS, values, strict=True):
                        if text == NULL:
                            data[fields[column].attname] = None
                        elif column == "custom_fields":
                            data[column] = json.loads(text)
                        else:
                            data[fields[column].attname] = fields[column].to_python(text)
                    people.append(Person(id=n, **data))
                    links.extend(
                        Tagging(person_id=n, tag_id=t, created_at=data["created_at"]) for t in tags
                    )
                Person.objects.bulk_create(people)
                Tagging.objects.bulk_create(links)
                taggings += len(links)
                self._progress("people", min(count, offset + chunk), count)
        return taggings

    def _progress(self, what: str, done: int, total: int) -> None:
        if total >= 100_000 and (done % 200_000 == 0 or done == total):
            self.stdout.write(
                f"  {done:,} / {total:,} {what} ({time.monotonic() - self._started:.0f}s)"
            )
