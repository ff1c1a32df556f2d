"""Full-text index for the database in use: FTS5 (external content, kept in sync by triggers) on
SQLite; a weighted, language-aware tsvector with a GIN index on PostgreSQL."""

from django.db import migrations

SQLITE = [
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
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_fts_update",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "DROP TABLE IF EXISTS search_fts",
]

PG_CONFIG = """CASE language WHEN 'de' THEN 'german'::regconfig WHEN 'fr' THEN 'french'::regconfig
    WHEN 'es' THEN 'spanish'::regconfig WHEN 'it' THEN 'italian'::regconfig WHEN 'nl' THEN 'dutch'::regconfig
    WHEN 'pt' THEN 'portuguese'::regconfig WHEN 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END"""
POSTGRES = [
    f"""ALTER TABLE search_searchdocument ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector({PG_CONFIG}, coalesce(title, '')), 'A') ||
        setweight(to_tsvector({PG_CONFIG}, coalesce(body, '')), 'B') ||
        setweight(to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(body, '')), 'D')) STORED""",
    "CREATE INDEX search_tsv_gin ON search_searchdocument USING GIN (tsv)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS search_tsv_gin",
    "ALTER TABLE search_searchdocument DROP COLUMN IF EXISTS tsv",
]


def forwards(apps, schema_editor):
    statements = SQLITE if schema_editor.connection.vendor == "sqlite" else POSTGRES
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = SQLITE_DROP if schema_editor.connection.vendor == "sqlite" else POSTGRES_DROP
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
