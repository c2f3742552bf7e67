"""Known rollups for the Stats tests: two customers, two providers, three UTC hours over two days.

Customer "Stats Customer" (the one the tests look at):
    2026-12-01 10:00  Alpha 10 attempts / 6 connected / 600 s, Beta 10 / 2 / 100 s, no provider 3 / 0
                      (2 channel and 1 CPS breach); charge 1.80, cost 1.20; PDD 20,000 ms over 10 calls
    2026-12-01 12:00  Alpha 5 / 5 / 300 s; charge 0.25, cost 0.10; PDD 5,500 ms over 5 calls
    2026-12-02 09:00  Beta 4 / 1 / 45 s; charge 0.03, cost 0.02; PDD 3,000 ms over 2 calls
Customer "Other Customer": 2026-12-01 10:00 Alpha 7 attempts, none connected (counts for Alpha's page and the
all-carriers table only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.factories import make_customer
from tests.routing.helpers import make_provider
from trunkline.cdrs.models import CodeRollup, PeakRollup, PeakScope, Rollup
from trunkline.customers.models import Customer
from trunkline.routing.models import Provider

H1 = datetime(2026, 12, 1, 10, tzinfo=UTC)
H2 = datetime(2026, 12, 1, 12, tzinfo=UTC)
H3 = datetime(2026, 12, 2, 9, tzinfo=UTC)
START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2026, 12, 3, tzinfo=UTC)


@dataclass
class StatsWorld:
    customer: Customer
    other: Customer
    alpha: Provider
    beta: Provider


def _rollup(hour: datetime, customer: Customer, provider_id: int, destination: str, **sums: Any) -> None:
    for field in ("customer_charge", "provider_charge"):
        if field in sums:
            sums[field] = Decimal(sums[field])
    Rollup.objects.create(hour=hour, customer_id=customer.pk, provider_id=provider_id, destination=destination,
                          last_call_at=hour, **sums)


def stats_world() -> StatsWorld:
    customer = make_customer(name="Stats Customer")
    other = make_customer(name="Other Customer")
    alpha = make_provider(name="Alpha Telecom")
    beta = make_provider(name="Beta Voice")
    _rollup(H1, customer, alpha.pk, "Germany Mobile", attempts=10, connected=6, duration=600, customer_billed=630,
            provider_billed=600, customer_charge="1.500000", provider_charge="1.000000", pdd_ms=12000, pdd_calls=6)
    _rollup(H1, customer, beta.pk, "Germany Mobile", attempts=10, connected=2, duration=100, customer_billed=120,
            provider_billed=100, customer_charge="0.300000", provider_charge="0.200000", pdd_ms=8000, pdd_calls=4)
    _rollup(H1, customer, 0, "", attempts=3, channel_breaches=2, cps_breaches=1)
    _rollup(H2, customer, alpha.pk, "Germany Fixed", attempts=5, connected=5, duration=300, customer_billed=300,
            provider_billed=300, customer_charge="0.250000", provider_charge="0.100000", pdd_ms=5500, pdd_calls=5)
    _rollup(H3, customer, beta.pk, "Germany Mobile", attempts=4, connected=1, duration=45, customer_billed=60,
            provider_billed=45, customer_charge="0.030000", provider_charge="0.020000", pdd_ms=3000, pdd_calls=2)
    _rollup(H1, other, alpha.pk, "Spain", attempts=7)
    codes = [(H1, customer, alpha.pk, 200, 6), (H1, customer, alpha.pk, 486, 4), (H1, customer, beta.pk, 200, 2),
             (H1, customer, beta.pk, 503, 8), (H1, customer, 0, 503, 3), (H2, customer, alpha.pk, 200, 5),
             (H3, customer, beta.pk, 200, 1), (H3, customer, beta.pk, 480, 3), (H1, other, alpha.pk, 408, 7)]
    CodeRollup.objects.bulk_create([CodeRollup(hour=hour, customer_id=owner.pk, provider_id=provider_id,
                                               sip_code=code, calls=calls)
                                    for hour, owner, provider_id, code, calls in codes])
    peaks = [(H1, PeakScope.CUSTOMER, customer.pk, 7, 3), (H2, PeakScope.CUSTOMER, customer.pk, 4, 2),
             (H3, PeakScope.CUSTOMER, customer.pk, 1, 1), (H1, PeakScope.PROVIDER, alpha.pk, 5, 2),
             (H2, PeakScope.PROVIDER, alpha.pk, 4, 2), (H1, PeakScope.CUSTOMER, other.pk, 9, 9)]
    PeakRollup.objects.bulk_create([PeakRollup(hour=hour, scope=scope, scope_id=scope_id, channels=channels, cps=cps)
                                    for hour, scope, scope_id, channels, cps in peaks])
    return StatsWorld(customer=customer, other=other, alpha=alpha, beta=beta)
