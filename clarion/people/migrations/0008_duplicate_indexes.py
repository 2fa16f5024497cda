"""Indexes that only cost writes: each new person and timeline entry pays for every one.

- Single-column indexes on foreign keys that a composite index already leads with:
  tagging (person: tagging_person_idx; tag: tagging_unique), list membership (person:
  listmember_person_idx; list: list_membership_unique) and activity (person:
  activity_person_idx). The composite serves the same look-ups and the cascade deletes.
- On PostgreSQL, the ``varchar_pattern_ops`` copies Django adds beside each indexed or
  unique text column of people (email, phone, postcode, share code, membership number).
  They serve only ``LIKE 'prefix%'``, which nothing asks of these columns (search reads
  names; everything else is an equality look-up, served by the plain index), and made up
  5 of the 19 indexes each new person writes. Django drops them with IF EXISTS when it
  alters such a field, so later migrations are unaffected.
"""

import django.db.models.deletion
from django.db import migrations, models

PATTERN_COLUMNS = ("email", "phone", "postcode", "share_code", "membership_number")


def _pattern_indexes(schema_editor):
    """(index name, column) of the ``_like`` indexes on people_person."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, a.attname FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] "
            "JOIN pg_opclass o ON o.oid = x.indclass[0] "
            "WHERE x.indrelid = 'people_person'::regclass AND x.indnatts = 1 "
            "AND o.opcname = 'varchar_pattern_ops'"
        )
        return [(name, column) for name, column in cursor.fetchall() if column in PATTERN_COLUMNS]


def drop_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in _pattern_indexes(schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def restore_pattern_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    present = {column for _name, column in _pattern_indexes(schema_editor)}
    for column in PATTERN_COLUMNS:
        if column not in present:
            schema_editor.execute(
                f"CREATE INDEX {schema_editor.quote_name(f'people_person_{column}_like')} "
                f"ON people_person ({schema_editor.quote_name(column)} varchar_pattern_ops)"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0007_import_unchanged"),
    ]

    operations = [
        migrations.RunPython(drop_pattern_indexes, restore_pattern_indexes),
        migrations.AlterField(
            model_name="activity",
            name="person",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="activities",
                to="people.person",
            ),
        ),
        migrations.AlterField(
            model_name="listmembership",
            name="list",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="people.personlist",
            ),
        ),
        migrations.AlterField(
            model_name="listmembership",
            name="person",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="list_memberships",
                to="people.person",
            ),
        ),
        migrations.AlterField(
            model_name="tagging",
            name="person",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="taggings",
                to="people.person",
            ),
        ),
        migrations.AlterField(
            model_name="tagging",
            name="tag",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="taggings",
                to="people.tag",
            ),
        ),
    ]
