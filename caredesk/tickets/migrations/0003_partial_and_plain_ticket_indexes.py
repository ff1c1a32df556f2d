"""Ticket indexes that cost every write more than they gave: thread_key loses the second,
pattern-matching index PostgreSQL adds for an indexed text field (threads are looked up by
equality); merged_into and organization are indexed over the tickets that have one (most have
neither, and on PostgreSQL an assignment rewrites every index entry of the row).

The old indexes are dropped by name and the new ones created, rather than through AlterField,
which on SQLite rebuilds the whole table."""

import django.db.models.deletion
from django.db import migrations, models

OLD = [("thread_key", ""), ("thread_key", "_like"), ("merged_into_id", ""), ("organization_id", "")]

NEW_INDEXES = [
    models.Index(fields=["thread_key"], name="ticket_thread_key"),
    models.Index(
        condition=models.Q(("merged_into__isnull", False)),
        fields=["merged_into"],
        name="ticket_merged_into",
    ),
    models.Index(
        condition=models.Q(("organization__isnull", False)),
        fields=["organization"],
        name="ticket_organization",
    ),
]


def drop_old_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    table = apps.get_model("tickets", "ticket")._meta.db_table
    for column, suffix in OLD:
        name = schema_editor._create_index_name(table, [column], suffix=suffix)
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_old_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    table = apps.get_model("tickets", "ticket")._meta.db_table
    quote = schema_editor.quote_name
    for column, suffix in OLD:
        if suffix and schema_editor.connection.vendor != "postgresql":
            continue
        name = schema_editor._create_index_name(table, [column], suffix=suffix)
        ops = " varchar_pattern_ops" if suffix == "_like" else ""
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)}{ops})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("tickets", "0002_drop_fk_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_old_indexes, create_old_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="ticket",
                    name="merged_into",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="merged_from",
                        to="tickets.ticket",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="organization",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="tickets",
                        to="customers.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="thread_key",
                    field=models.CharField(blank=True, max_length=255),
                ),
            ],
        ),
        *(migrations.AddIndex(model_name="ticket", index=index) for index in NEW_INDEXES),
    ]
