"""One GIN-indexed array of everything a typical segment tests (PostgreSQL only).

``people_person.facts bigint[]`` holds, for each person:

- their tag ids, as they are (copied from ``tag_ids``);
- ``AREA_BASE + area_id`` (2^60 + id) for the area they are in;
- ``EMAIL_BASE + code`` and ``MEMBERSHIP_BASE + code`` (2·2^60, 3·2^60) for their email
  and membership status;
- ``people_custom_marker(key, value)`` (4·2^60 + 60 bits of md5("key=<json value>")) for
  each custom field holding a yes/no or a text of at most 200 characters (choices,
  dates). A segment tests such a marker *and* the exact value on the rows the index
  found, so a hash collision could only cost time, never change a count.

``segments.conditions`` mirrors the bases and codes (``AREA_BASE`` …) and asks the
database for custom markers, so ``people_custom_marker`` is their only definition.

Why: with one index per condition, PostgreSQL built a bitmap per condition (an area,
"subscribed", a popular tag, "Gift Aid: yes" are 100k–1.1M people each) and ANDed
them, about 1 µs per entry, so a typical segment cost 200–300 ms on 2M people. With
all of them in one array, ``facts @> ARRAY[tag, status, custom] AND facts &&
ARRAY[areas of the subtree]`` is ONE GIN scan that intersects the posting lists itself
(skipping through the long ones), and the table is read only for the people who match.

The area is the person's own (not also its ancestors): an area condition lists its
subtree's ids (a few rows, read when the segment is compiled). So ``people_facts``
reads no table, the triggers below cost a few µs per row written, and ``area_move``
(which rewrites paths) needs no re-derivation at all.

How it stays right, whatever writes the rows (services, imports with COPY, merges,
raw SQL):

- ``people_facts(...)`` derives the array from the row's own columns only.
- A BEFORE INSERT row trigger sets ``facts``; a BEFORE UPDATE row trigger recomputes it
  only when ``tag_ids``, ``area_id``, a status or ``custom_fields`` changed (the WHEN
  clause keeps other updates free of any trigger call), or when something wrote
  ``facts`` itself. The tagging triggers of 0002 rewrite ``tag_ids``, so tags flow
  through the same path.
- Like ``tag_ids``, the column is not a model field: Django never writes it, so a stale
  Person instance saved later cannot undo the triggers' work (a full save rewrites
  ``area_id``, statuses and custom fields, which re-fires the trigger on the saved
  values).

The backfill rewrites the table once with ``ALTER COLUMN … TYPE … USING`` instead of
an UPDATE: a rewrite builds fresh heap and indexes in bulk, while an UPDATE of every
row would leave a dead copy of each one behind (twice the table until a VACUUM FULL)
and update all of the table's indexes row by row.

All tag conditions now read ``facts`` too, so the GIN index on ``tag_ids`` from 0002
is dropped: one fewer GIN index for every write.
"""

from django.db import migrations

MARKER_FUNCTION = """
CREATE FUNCTION people_custom_marker(key text, value jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (4::bigint << 60) + ('x' || substr(md5(key || '=' || value::text), 1, 15))::bit(60)::bigint
$$
"""

FACTS_FUNCTION = """
CREATE FUNCTION people_facts(tags bigint[], area bigint, email_status text, membership_status text,
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
BEGIN
    -- Only simple expressions, no queries: this runs for every row written.
    IF area IS NOT NULL THEN
        result := result || ((1::bigint << 60) + area);
    END IF;
    IF jsonb_typeof(custom) = 'object' AND custom <> '{}'::jsonb THEN
        pairs := jsonb_path_query_array(custom,
            'strict $.keyvalue() ? (@.value.type() == "string" || @.value.type() == "boolean")');
        FOR i IN 0 .. jsonb_array_length(pairs) - 1 LOOP
            IF length(pairs -> i ->> 'value') <= 200 THEN
                result := result || people_custom_marker(pairs -> i ->> 'key', pairs -> i -> 'value');
            END IF;
        END LOOP;
    END IF;
    RETURN result;
END $$
"""

FORWARD = [
    MARKER_FUNCTION,
    FACTS_FUNCTION,
    "ALTER TABLE people_person ADD COLUMN facts bigint[] NOT NULL DEFAULT '{}'",
    # A full rewrite (see the module docstring), not an UPDATE of every row.
    """
    ALTER TABLE people_person ALTER COLUMN facts TYPE bigint[]
    USING people_facts(tag_ids, area_id, email_status, membership_status, custom_fields)
    """,
    "CREATE INDEX person_facts_gin ON people_person USING gin (facts)",
    "DROP INDEX IF EXISTS person_tag_ids_gin",
    """
    CREATE FUNCTION people_person_facts() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.facts := people_facts(NEW.tag_ids, NEW.area_id, NEW.email_status, NEW.membership_status,
                                  NEW.custom_fields);
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER people_person_facts_inserted BEFORE INSERT ON people_person
    FOR EACH ROW EXECUTE FUNCTION people_person_facts()
    """,
    """
    CREATE TRIGGER people_person_facts_updated BEFORE UPDATE ON people_person
    FOR EACH ROW WHEN (OLD.tag_ids IS DISTINCT FROM NEW.tag_ids
                       OR OLD.area_id IS DISTINCT FROM NEW.area_id
                       OR OLD.email_status IS DISTINCT FROM NEW.email_status
                       OR OLD.membership_status IS DISTINCT FROM NEW.membership_status
                       OR OLD.custom_fields IS DISTINCT FROM NEW.custom_fields
                       OR OLD.facts IS DISTINCT FROM NEW.facts)
    EXECUTE FUNCTION people_person_facts()
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS people_person_facts_updated ON people_person",
    "DROP TRIGGER IF EXISTS people_person_facts_inserted ON people_person",
    "DROP FUNCTION IF EXISTS people_person_facts()",
    "CREATE INDEX IF NOT EXISTS person_tag_ids_gin ON people_person USING gin (tag_ids)",
    "DROP INDEX IF EXISTS person_facts_gin",
    "ALTER TABLE people_person DROP COLUMN IF EXISTS facts",
    "DROP FUNCTION IF EXISTS people_facts(bigint[], bigint, text, text, jsonb)",
    "DROP FUNCTION IF EXISTS people_custom_marker(text, jsonb)",
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
        ("people", "0002_segment_indexes"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
