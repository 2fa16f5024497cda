"""One GIN-indexed array of everything a typical segment tests (PostgreSQL only).

``people_person.facts bigint[]`` holds, for each person:

- their tag ids, as they are (copied from ``tag_ids``);
- ``AREA_BASE + id`` for their area *and every area above it* (read from
  ``areas_area.path``), so "in area X (and the areas inside it)" is one array element;
- ``EMAIL_BASE + code`` for their email status and ``MEMBERSHIP_BASE + code`` for their
  membership status;
- ``CUSTOM_BASE + h`` for each custom field holding a yes/no or a short text (choices,
  dates), ``h`` being 60 bits of md5("key=b:true" / "key=s:Canvassing"). A segment
  tests such a marker *and* the exact value (on the rows the index found), so a hash
  collision could only cost time, never a wrong count.

The bases (2^60 … 4·2^60), codes and hash are mirrored by ``segments.conditions``
(``AREA_BASE`` …, ``custom_marker``); change both together.

Why: with a separate index per condition, PostgreSQL reads every condition's whole
bitmap (an area, "subscribed" and a popular tag are 100k–1.2M entries each) and ANDs
them, about 1 µs per entry, so a typical segment cost 200–300 ms on 2M people. With
all of them in one array, ``facts @> ARRAY[tag, area, status]`` is ONE GIN scan,
and GIN intersects the posting lists itself, skipping through the common keys guided
by the rarest one, and the heap is read only for the people who match everything.

How it stays right, whatever writes the rows (services, imports with COPY, merges,
raw SQL):

- ``people_facts(...)`` derives the array from a row's own columns plus the area path.
- A BEFORE INSERT row trigger sets ``facts``; a BEFORE UPDATE row trigger recomputes it
  only when ``tag_ids``, ``area_id``, a status or ``custom_fields`` changed
  (the WHEN clause keeps unrelated updates free of any trigger call). The tagging
  triggers of 0002 rewrite ``tag_ids``, so tags flow through the same path.
- ``area_move`` rewrites ``areas_area.path`` row by row; an AFTER UPDATE trigger on
  areas_area re-derives ``facts`` of the people directly in each moved area, and since
  every area of the moved subtree gets its own path update, the whole subtree is
  covered.
- Like ``tag_ids``, the column is not a model field: Django never writes it, so a stale
  Person instance saved later cannot undo the triggers' work (and a full save that
  rewrites ``area_id``/statuses re-fires the trigger with the saved values).

The backfill rewrites the table once with ``ALTER COLUMN … TYPE … USING`` instead of
an UPDATE: a rewrite builds fresh heap and indexes in bulk, while an UPDATE of every
row would leave a dead copy of each one behind (twice the table until a VACUUM FULL)
and update all of the table's indexes row by row.

All tag conditions now read ``facts`` too, so the GIN index on ``tag_ids`` from 0002
is dropped: one fewer GIN index for every write.
"""

from django.db import migrations

FACTS_FUNCTION = """
CREATE FUNCTION people_facts(tags bigint[], area bigint, email_status text, membership_status text,
                             custom jsonb)
RETURNS bigint[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tags
        || COALESCE((SELECT array_agg((1::bigint << 60) + part::bigint)
                     FROM areas_area a, unnest(string_to_array(trim(BOTH '/' FROM a.path), '/')) AS part
                     WHERE a.id = area AND part <> ''), '{}')
        || ARRAY[(2::bigint << 60) + CASE email_status
                    WHEN 'none' THEN 1 WHEN 'subscribed' THEN 2 WHEN 'unsubscribed' THEN 3
                    WHEN 'bouncing' THEN 4 WHEN 'complained' THEN 5 ELSE 0 END,
                 (3::bigint << 60) + CASE membership_status
                    WHEN 'none' THEN 1 WHEN 'active' THEN 2 WHEN 'lapsed' THEN 3
                    WHEN 'cancelled' THEN 4 ELSE 0 END]
        || CASE WHEN jsonb_typeof(custom) = 'object' THEN COALESCE(
               (SELECT array_agg((4::bigint << 60) + ('x' || substr(md5(
                           f.key || '=' || CASE jsonb_typeof(f.value) WHEN 'boolean' THEN 'b:' ELSE 's:' END
                           || (f.value #>> '{}')), 1, 15))::bit(60)::bigint)
                FROM jsonb_each(custom) AS f
                WHERE jsonb_typeof(f.value) IN ('string', 'boolean') AND length(f.value #>> '{}') <= 200),
               '{}') ELSE '{}' END
$$
"""

FORWARD = [
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
    """
    CREATE FUNCTION people_area_path_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE people_person p
        SET facts = people_facts(p.tag_ids, p.area_id, p.email_status, p.membership_status, p.custom_fields)
        WHERE p.area_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER areas_area_path_changed AFTER UPDATE OF path ON areas_area
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION people_area_path_changed()
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS areas_area_path_changed ON areas_area",
    "DROP FUNCTION IF EXISTS people_area_path_changed()",
    "DROP TRIGGER IF EXISTS people_person_facts_updated ON people_person",
    "DROP TRIGGER IF EXISTS people_person_facts_inserted ON people_person",
    "DROP FUNCTION IF EXISTS people_person_facts()",
    "CREATE INDEX IF NOT EXISTS person_tag_ids_gin ON people_person USING gin (tag_ids)",
    "DROP INDEX IF EXISTS person_facts_gin",
    "ALTER TABLE people_person DROP COLUMN IF EXISTS facts",
    "DROP FUNCTION IF EXISTS people_facts(bigint[], bigint, text, text, jsonb)",
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
        ("areas", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
