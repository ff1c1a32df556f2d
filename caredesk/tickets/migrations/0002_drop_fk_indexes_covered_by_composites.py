"""Drop the single-column indexes of four foreign keys that a composite index already starts with
(ticket.team, ticket.assignee,
ticket.requester, message.ticket, event.ticket): every write paid for a B-tree entry
no query needed.

The indexes are dropped by name rather than through AlterField, which on SQLite rebuilds the
whole table (minutes at a million tickets) to remove one index."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COVERED = [
    ("ticket", "team_id"),
    ("ticket", "assignee_id"),
    ("ticket", "requester_id"),
    ("message", "ticket_id"),
    ("ticketevent", "ticket_id"),
]


def _names(apps, schema_editor):  # type: ignore[no-untyped-def]
    for model_name, column in COVERED:
        table = apps.get_model("tickets", model_name)._meta.db_table
        yield table, column, schema_editor._create_index_name(table, [column], suffix="")


def drop_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    quote = schema_editor.quote_name
    for _table, _column, name in _names(apps, schema_editor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    quote = schema_editor.quote_name
    for table, column, name in _names(apps, schema_editor):
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_presence_seen_at"),
        ("customers", "0001_initial"),
        ("tickets", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="ticket",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="tickets.ticket",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="assigned_tickets",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="requester",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tickets",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="team",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="tickets",
                        to="accounts.team",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticketevent",
                    name="ticket",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="tickets.ticket",
                    ),
                ),
            ],
        ),
    ]
