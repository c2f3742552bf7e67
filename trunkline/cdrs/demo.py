"""Demo CDRs for `make run`: a few thousand calls of the demo customers over the last 30 days, through cdrs_ingest
(rated on the demo cards, charged to the ledger, counted in the rollups) so the CDR, Stats and Summary views and
the balances have something true to show."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from trunkline.cdrs.models import CdrSource
from trunkline.cdrs.services.ingest import IngestResult, cdrs_ingest
from trunkline.contracts.calls import ReleaseReason
from trunkline.customers.models import Customer
from trunkline.routing.demo import DECK
from trunkline.routing.models import IngressRoute
from trunkline.sipauth.models import IpAuth

SEED = 20261206
# Unanswered calls end with one of these (weights of a wholesale day: busy and no answer lead).
FAILURES = ((486, "Busy Here", 30), (487, "Request Terminated", 25), (480, "Temporarily Unavailable", 15),
            (503, "Service Unavailable", 12), (404, "Not Found", 10), (403, "Forbidden", 5),
            (503, "Channel Limit Reached", 2), (503, "CPS Limit Reached", 1))
RELEASES = ((ReleaseReason.DOWNSTREAM_BYE, 55), (ReleaseReason.UPSTREAM_BYE, 40), (ReleaseReason.PING_TIMEOUT, 3),
            (ReleaseReason.MI_TERMINATION, 2))


def demo_cdrs_create(*, count: int = 3000, days: int = 30, now: datetime | None = None) -> IngestResult:
    """`count` calls (call ids demo-000001...) spread over the `days` before `now`, of the active demo customers
    that have an ingress route and an IP-auth entry. Idempotent: a second run finds them all as duplicates."""
    now = now or timezone.now()
    routes = {route.customer_id: route for route in IngressRoute.objects.filter(enabled=True).order_by("pk")
              .prefetch_related("rate_card__egress_cards")}
    addresses: dict[int, str] = {}
    for customer_id, ip in IpAuth.objects.order_by("pk").values_list("customer_id", "ip"):
        addresses.setdefault(customer_id, ip.split("/")[0])
    customers = list(Customer.objects.filter(pk__in=routes.keys() & addresses.keys(), status="active")
                     .order_by("pk").values_list("pk", flat=True))
    if not customers:
        return IngestResult()
    generator = random.Random(SEED)
    # A few customers carry most of the traffic, as on a real switch.
    weights = [generator.paretovariate(1.2) for _ in customers]
    records: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        customer = generator.choices(customers, weights)[0]
        route = routes[customer]
        providers = sorted({card.provider_id for card in route.rate_card.egress_cards.all() if card.provider_id})
        prefix = generator.choice(DECK)[0]
        start = now - timedelta(seconds=generator.uniform(600, days * 86_400))
        answered = generator.random() < 0.55
        pdd = generator.randint(800, 5500)
        record: dict[str, Any] = {
            "call_id": f"demo-{number:06d}", "leg": "a", "customer": customer, "ip": addresses[customer],
            "cli": f"1{generator.randint(200, 999)}{generator.randint(0, 9_999_999):07d}",
            "dst": f"{prefix}{generator.randint(0, 10 ** (11 - len(prefix)) - 1):0{11 - len(prefix)}d}",
            "start": start.isoformat(), "route": route.pk, "tech_prefix": route.tech_prefix,
            "provider": generator.choice(providers) if providers else None, "pdd_ms": pdd, "node": "demo",
        }
        if answered:
            answer = start + timedelta(milliseconds=pdd + generator.randint(1000, 12_000))
            talk = min(generator.expovariate(1 / 150), 3 * 3600)
            record.update(answer=answer.isoformat(), end=(answer + timedelta(seconds=talk)).isoformat(),
                          sip_code=200, sip_reason="OK", ring_ms=int((answer - start).total_seconds() * 1000) - pdd,
                          release_reason=generator.choices([r for r, _ in RELEASES], [w for _, w in RELEASES])[0])
        else:
            code, reason, _ = generator.choices(FAILURES, [w for *_, w in FAILURES])[0]
            record.update(answer=None, end=(start + timedelta(milliseconds=pdd + generator.randint(0, 20_000)))
                          .isoformat(), sip_code=code, sip_reason=reason, release_reason="")
        records.append(record)
    return cdrs_ingest(records=records, source=CdrSource.API.value)
