# Trigram indexes for the Customers board search, on PostgreSQL only.
#
# The search (`q`) and the "contains" filters compile `icontains` on PostgreSQL to
# UPPER("column"::text) LIKE UPPER('%term%'): no B-tree can serve it, so at 100k customers every search was two
# sequential scans calling UPPER() on ten columns (about 0.3 s each). A GIN gin_trgm_ops index on exactly that
# expression lets the planner answer with a BitmapOr of index scans. The expression must stay identical to what
# Django emits (including the ::text cast) or the planner will not use the index.
#
# SQLite has neither pg_trgm nor GIN: there every operation below does nothing and the search stays a scan.

from django.db import migrations

SEARCH_COLUMNS = ("name", "paypal_email", "website", "tags", "address_line1", "address_line2", "city", "region",
                  "postcode", "country")


def _index_name(column):
    return f"customers_customer_{column}_trgm"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCH_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_index_name(column)}" ON "customers_customer" '
            f'USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other objects may use it, and it costs nothing unused.
    for column in SEARCH_COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_index_name(column)}"')


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0002_board_sort_index"),
    ]

    operations = [
        # Not django.contrib.postgres' TrigramExtension: its reverse runs PostgreSQL-only SQL on SQLite too.
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
