"""Rated CDRs as ingest leaves them, written straight to the table: the CDR tab and GET /api/v1/cdrs/ only read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from trunkline.cdrs.models import Cdr
from trunkline.customers.models import Customer

_sequence = count(1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cdr(customer: Customer, start: datetime, *, duration: int = 0, **fields: Any) -> Cdr:
    """An unsaved CDR: connected when `duration` > 0 (answered 2 s after the start), else a failed attempt with
    sip_code 486 unless given."""
    answered = duration > 0
    data: dict[str, Any] = {
        "call_id": f"call-{next(_sequence):05d}", "leg": "a", "source": "api", "customer": customer,
        "cli": "15551230000", "dst": "442071234567", "start": start,
        "answer": start + timedelta(seconds=2) if answered else None,
        "end": start + timedelta(seconds=2 + duration) if answered else start + timedelta(seconds=5),
        "duration_ms": duration * 1000, "duration": duration, "sip_code": 200 if answered else 486,
        "sip_reason": "OK" if answered else "Busy Here",
        "release_reason": "Downstream BYE" if answered else "",
        "customer_currency": customer.currency,
    }
    data.update(fields)
    return Cdr(**data)


def make_cdrs(*cdrs: Cdr) -> list[Cdr]:
    """Saved in one insert, with their ids (both databases return them)."""
    return Cdr.objects.bulk_create(cdrs)


def rated(**fields: Any) -> dict[str, Any]:
    """The rated fields of a CDR of UK London at 0.0700/min, 65 s billed 66 s (MCD 6, pulse 6), bought at 0.0500."""
    data: dict[str, Any] = {
        "customer_card_id": 3, "customer_revision_id": 9, "customer_dest_code": "4420",
        "customer_dest_name": "UK London", "customer_rate": Decimal("0.070000"),
        "customer_connect_fee": Decimal("0.000000"), "customer_billed": 66, "customer_charge": Decimal("0.077000"),
        "customer_tax": Decimal("0.015400"), "provider_card_id": 4, "provider_revision_id": 12,
        "provider_dest_code": "44", "provider_dest_name": "UK", "provider_rate": Decimal("0.050000"),
        "provider_connect_fee": Decimal("0.000000"), "provider_billed": 66, "provider_charge": Decimal("0.055000"),
        "provider_currency": "USD", "profit": Decimal("0.022000"), "ledger_total": Decimal("0.092400"),
    }
    data.update(fields)
    return data


def insert_many(customer: Customer, rows: int, start: datetime) -> None:
    """`rows` answered, rated CDRs of one moment in one INSERT ... SELECT (a recursive count, on SQLite and
    PostgreSQL alike): bulk_create spends most of a minute building 20,000 model instances on a loaded box."""
    from django.db import connection

    sql = f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s)
        INSERT INTO {Cdr._meta.db_table} (call_id, leg, source, node, customer_id, source_ip, sip_user, cli, dst,
            tech_prefix, start, answer, "end", duration_ms, duration, sip_code, sip_reason, release_reason,
            customer_dest_code, customer_dest_name, customer_rate, customer_billed, customer_charge, customer_tax,
            customer_currency, provider_dest_code, provider_dest_name, provider_billed, provider_charge,
            provider_currency, rating_error, ledger_total, rated_at, created_at)
        SELECT 'bulk-' || i, 'a', 'api', '', %s, '', '', '15551230000', '442071234567', '', %s, %s, %s,
            (i %% 120) * 1000, i %% 120, 200, 'OK', 'Downstream BYE', '4420', 'UK London', 0.07, 66, 0.077, 0,
            %s, '', '', 0, 0, '', '', 0.077, %s, %s
        FROM n"""
    moment = connection.ops.adapt_datetimefield_value(start)
    with connection.cursor() as cursor:
        cursor.execute(sql, [rows - 1, customer.pk, moment, moment, moment, customer.currency, moment, moment])
