"""The document kind goes into the full-text index so each kind's newest matches can be read
straight off it (search ranks a bounded candidate set per kind, see search/services.py).

SQLite: FTS5 is rebuilt with an indexed `kind` column (queries never match words against it).
PostgreSQL: a (kind, id) index lets the planner walk one kind newest-first and stop early."""

from django.db import migrations

SQLITE = [
    "DROP TRIGGER IF EXISTS search_fts_update",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "DROP TABLE IF EXISTS search_fts",
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        title, body, kind, content='search_searchdocument', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER search_fts_insert AFTER INSERT ON search_searchdocument BEGIN
        INSERT INTO search_fts(rowid, title, body, kind) VALUES (new.id, new.title, new.body, new.kind); END""",
    """CREATE TRIGGER search_fts_delete AFTER DELETE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, body, kind)
        VALUES ('delete', old.id, old.title, old.body, old.kind); END""",
    """CREATE TRIGGER search_fts_update AFTER UPDATE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, body, kind)
        VALUES ('delete', old.id, old.title, old.body, old.kind);
        INSERT INTO search_fts(rowid, title, body, kind) VALUES (new.id, new.title, new.body, new.kind); END""",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
SQLITE_BACK = [
    "DROP TRIGGER IF EXISTS search_fts_update",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "DROP TABLE IF EXISTS search_fts",
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        title, body, content='search_searchdocument', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
    """CREATE TRIGGER search_fts_insert AFTER INSERT ON search_searchdocument BEGIN
        INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END""",
    """CREATE TRIGGER search_fts_delete AFTER DELETE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END""",
    """CREATE TRIGGER search_fts_update AFTER UPDATE ON search_searchdocument BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END""",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
POSTGRES = ["CREATE INDEX IF NOT EXISTS search_kind_id ON search_searchdocument (kind, id)"]
POSTGRES_BACK = ["DROP INDEX IF EXISTS search_kind_id"]


def forwards(apps, schema_editor):
    statements = SQLITE if schema_editor.connection.vendor == "sqlite" else POSTGRES
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = SQLITE_BACK if schema_editor.connection.vendor == "sqlite" else POSTGRES_BACK
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("search", "0002_fulltext")]
    operations = [migrations.RunPython(forwards, backwards)]
