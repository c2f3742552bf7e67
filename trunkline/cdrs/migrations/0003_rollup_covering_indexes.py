"""On PostgreSQL the rollup indexes Stats, the Summary and the board read become covering (INCLUDE the columns
they sum), so those queries are index-only scans instead of one heap visit per rollup row (a provider's month is
~100k rows spread over the whole table). Same names and keys, so the models' Meta.indexes still describe them and
later migrations can drop them by name; SQLite has no INCLUDE and keeps its plain indexes (declaring include= in
Meta would make every command on SQLite print models.W040)."""

from django.db import migrations

SUMS = ("attempts", "connected", "duration", "customer_billed", "customer_charge", "provider_charge", "pdd_ms",
        "pdd_calls", "channel_breaches", "cps_breaches")
# (index, table, key, included columns)
INDEXES = (
    ("rollup_customer_hour", "cdrs_rollup", ("customer_id", "hour"), ("provider_id", *SUMS, "last_call_at")),
    ("rollup_provider_hour", "cdrs_rollup", ("provider_id", "hour"), SUMS),
    ("code_rollup_customer_hour", "cdrs_coderollup", ("customer_id", "hour"), ("sip_code", "calls")),
    ("code_rollup_provider_hour", "cdrs_coderollup", ("provider_id", "hour"), ("sip_code", "calls")),
    ("peak_rollup_scope_hour", "cdrs_peakrollup", ("scope", "scope_id", "hour"), ("channels", "cps")),
)


def _rebuild(schema_editor, covering: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name, table, key, include in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")
        tail = f" INCLUDE ({', '.join(quote(column) for column in include)})" if covering else ""
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} "
                              f"({', '.join(quote(column) for column in key)}){tail}")


def covering(apps, schema_editor) -> None:
    _rebuild(schema_editor, covering=True)


def plain(apps, schema_editor) -> None:
    _rebuild(schema_editor, covering=False)


class Migration(migrations.Migration):
    dependencies = [
        ("cdrs", "0002_cdr_rollups_recalc"),
    ]

    operations = [migrations.RunPython(covering, plain, elidable=False)]
