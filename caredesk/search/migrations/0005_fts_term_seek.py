"""SQLite: an `instance` vocabulary of the FTS5 index. Unlike the `row` vocabulary (0004), which
counts every posting of a term before returning it, it hands back the first term at or after a
given string at once, so a prefix is expanded by seeking from term to term (search/services.py,
_prefix_forms). It replaces the `row` vocabulary, which nothing reads any more. Nothing on
PostgreSQL."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_terms "
            "USING fts5vocab(search_fts, 'instance')"
        )
        schema_editor.execute("DROP TABLE IF EXISTS search_fts_vocab")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS search_fts_terms")
        schema_editor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_vocab USING fts5vocab(search_fts, 'row')"
        )


class Migration(migrations.Migration):
    dependencies = [("search", "0004_fts_vocabulary")]
    operations = [migrations.RunPython(forwards, backwards)]
