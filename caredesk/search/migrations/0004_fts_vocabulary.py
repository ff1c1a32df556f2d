"""SQLite: a vocabulary view of the FTS5 index, so a prefix can be expanded into the terms that
start with it (search/services.py, _prefix_forms). Nothing on PostgreSQL."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_vocab USING fts5vocab(search_fts, 'row')"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS search_fts_vocab")


class Migration(migrations.Migration):
    dependencies = [("search", "0003_bounded_candidates")]
    operations = [migrations.RunPython(forwards, backwards)]
