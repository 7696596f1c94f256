"""PostgreSQL only: unaccent, the `portal_es` text search configuration (Spanish stemming after
unaccent), GIN indexes on the stored search documents, and the documents of existing tickets.
Nothing happens on SQLite (its search is the simple fallback of tickets/search.py)."""

from django.db import migrations

SETUP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'portal_es') THEN
           CREATE TEXT SEARCH CONFIGURATION portal_es (COPY = pg_catalog.spanish);
           ALTER TEXT SEARCH CONFIGURATION portal_es
             ALTER MAPPING FOR hword, hword_part, word WITH unaccent, spanish_stem;
         END IF;
       END $$""",
    "CREATE INDEX IF NOT EXISTS ticket_search_public_gin ON tickets_ticketsearch USING gin (public)",
    "CREATE INDEX IF NOT EXISTS ticket_search_internal_gin ON tickets_ticketsearch USING gin (internal)",
]
TEARDOWN = [
    "DROP INDEX IF EXISTS ticket_search_internal_gin",
    "DROP INDEX IF EXISTS ticket_search_public_gin",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in SETUP:
            cursor.execute(statement)
    from tickets.search import rebuild  # raw SQL on the tables of this migration state

    rebuild()


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in TEARDOWN:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0011_ticket_search")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
