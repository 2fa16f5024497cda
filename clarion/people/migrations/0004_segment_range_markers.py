"""Range markers in ``people_person.facts`` for number and date custom fields
(PostgreSQL only).

0003 gave each short text/yes-no custom value a marker, so "is" conditions are answered
by the facts index; "less than / on or after" conditions on numbers and dates still
read every row the other tests left (a "born before 1970" segment read ~15k rows to
keep ~3k). Now ``people_facts`` also files each custom value in coarse ordered buckets,
so a range condition adds one ``facts && ARRAY[buckets]`` test to the single GIN scan
and the table is read only for the people in the range (plus one edge bucket):

- a number ``v`` with ``-100000 < v < 100000`` gets ``n0:floor(v/10)``,
  ``n1:floor(v/100)``, ``n2:floor(v/1000)`` and ``n3:floor(v/10000)``;
- a text shaped like a date in the years 1000–2999 (``YYYY-MM-DD`` with a month
  01–12, as the services store dates) gets ``d0:<year * 12 + month - 1>``,
  ``d1:YYYY``, ``d2:YYY`` (decade) and ``d3:YY`` (century);
- every other value (a number out of that range, any other text, yes/no, null, a list)
  gets ``other``.

``people_range_marker(key, label)`` turns these into facts markers: ``CUSTOM_BASE`` +
60 bits of md5("key=#label"). A custom value's JSON text never starts with ``#``, so
they never stand for an "is" marker of 0003 (a hash collision could only cost time).

``segments.conditions.range_labels`` picks, for a bound, the fewest buckets that cover
the range (at most nine per level and side) and always adds ``other`` and the buckets
of the other kind that the jsonb order puts in range (texts sort before numbers), so
every row the exact comparison would keep carries at least one of the markers: the
exact comparison still runs on the rows found, and counts stay exact whatever a row
holds.

The rewrite of the column works like 0003's backfill (``ALTER COLUMN … USING``: fresh
heap and indexes in bulk, no dead copy of every row). The triggers of 0003 call
``people_facts`` by name, so replacing the function is all they need (the update
trigger is only dropped and recreated around the rewrite, see ``REWRITE``).
"""

import importlib

from django.db import migrations

facts_0003 = importlib.import_module("clarion.people.migrations.0003_segment_facts")

RANGE_MARKER_FUNCTION = """
CREATE FUNCTION people_range_marker(key text, label text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (4::bigint << 60) + ('x' || substr(md5(key || '=#' || label), 1, 15))::bit(60)::bigint
$$
"""

FACTS_FUNCTION = """
CREATE OR REPLACE FUNCTION people_facts(tags bigint[], area bigint, email_status text, membership_status text,
                                        custom jsonb)
RETURNS bigint[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    result bigint[] := tags || ARRAY[
        (2::bigint << 60) + CASE email_status
            WHEN 'none' THEN 1 WHEN 'subscribed' THEN 2 WHEN 'unsubscribed' THEN 3
            WHEN 'bouncing' THEN 4 WHEN 'complained' THEN 5 ELSE 0 END,
        (3::bigint << 60) + CASE membership_status
            WHEN 'none' THEN 1 WHEN 'active' THEN 2 WHEN 'lapsed' THEN 3
            WHEN 'cancelled' THEN 4 ELSE 0 END];
    pairs jsonb;
    key text;
    value jsonb;
    kind text;
    number numeric;
    year integer;
BEGIN
    -- Only simple expressions, no queries: this runs for every row written.
    IF area IS NOT NULL THEN
        result := result || ((1::bigint << 60) + area);
    END IF;
    IF jsonb_typeof(custom) = 'object' AND custom <> '{}'::jsonb THEN
        pairs := jsonb_path_query_array(custom, 'strict $.keyvalue()');
        FOR i IN 0 .. jsonb_array_length(pairs) - 1 LOOP
            key := pairs -> i ->> 'key';
            value := pairs -> i -> 'value';
            kind := jsonb_typeof(value);
            -- "Is" markers (as in 0003).
            IF (kind = 'string' AND length(value #>> '{}') <= 200) OR kind = 'boolean' THEN
                result := result || people_custom_marker(key, value);
            END IF;
            -- Range markers (see the module docstring).
            IF kind = 'number' AND (value #>> '{}')::numeric > -100000 AND (value #>> '{}')::numeric < 100000 THEN
                number := (value #>> '{}')::numeric;
                result := result || ARRAY[
                    people_range_marker(key, 'n0:' || floor(number / 10)),
                    people_range_marker(key, 'n1:' || floor(number / 100)),
                    people_range_marker(key, 'n2:' || floor(number / 1000)),
                    people_range_marker(key, 'n3:' || floor(number / 10000))];
            ELSIF kind = 'string' AND (value #>> '{}') ~ '^[12][0-9]{3}-(0[1-9]|1[0-2])-[0-9]{2}$' THEN
                year := substr(value #>> '{}', 1, 4)::integer;
                result := result || ARRAY[
                    people_range_marker(key, 'd0:' || (year * 12 + substr(value #>> '{}', 6, 2)::integer - 1)),
                    people_range_marker(key, 'd1:' || year),
                    people_range_marker(key, 'd2:' || year / 10),
                    people_range_marker(key, 'd3:' || year / 100)];
            ELSE
                result := result || people_range_marker(key, 'other');
            END IF;
        END LOOP;
    END IF;
    RETURN result;
END $$
"""

REBUILD = """
ALTER TABLE people_person ALTER COLUMN facts TYPE bigint[]
USING people_facts(tag_ids, area_id, email_status, membership_status, custom_fields)
"""

# PostgreSQL will not rewrite a column that a trigger's WHEN clause names, so 0003's
# update trigger is dropped for the rewrite and created again, unchanged, after it (all
# in the migration's transaction: no write can slip between them).
UPDATE_TRIGGER = next(sql for sql in facts_0003.FORWARD if "TRIGGER people_person_facts_updated" in sql)
REWRITE = [
    "DROP TRIGGER people_person_facts_updated ON people_person",
    REBUILD,
    UPDATE_TRIGGER,
]

FORWARD = [RANGE_MARKER_FUNCTION, FACTS_FUNCTION, *REWRITE]

BACKWARD = [
    facts_0003.FACTS_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1),
    *REWRITE,
    "DROP FUNCTION IF EXISTS people_range_marker(text, text)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0003_segment_facts"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
