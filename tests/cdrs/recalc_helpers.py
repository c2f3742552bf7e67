"""A customer, cards and route for the Recalc CDR and CSV import tests, and CDRs ingested as the API does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.utils import timezone

from tests.factories import make_customer
from tests.routing.helpers import SIMULATE_IP, load_rates, make_card
from tests.sipauth.factories import make_ip_auth
from trunkline.cdrs.models import Cdr
from trunkline.cdrs.services.ingest import cdrs_ingest
from trunkline.core.context import change_context
from trunkline.routing.models import IngressRoute
from trunkline.routing.services.routes import ingress_route_save


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_world() -> SimpleNamespace:
    """Acme (10 % tax, 5.00 of credit) sold 44 at 0.006/min (0.0001/s, 1/1) on Retail, bought from Cheap at 0.003;
    Premium sells 44 at 0.012. Every card's revision is live before the calls start (t0)."""
    customer = make_customer(name="Acme", balance=Decimal("5.00"), tax_rate=Decimal("10"))
    make_ip_auth(customer, ip=SIMULATE_IP)
    cheap = make_card(kind="provider", name="Cheap")
    load_rates(cheap, "44,UK,0.0030,0,1,1,0,active\n")
    retail = make_card(name="Retail", egress_cards=[cheap])
    load_rates(retail, "44,UK,0.0060,0,1,1,0,active\n")
    premium = make_card(name="Premium", egress_cards=[cheap])
    load_rates(premium, "44,UK,0.0120,0,1,1,0,active\n")
    with change_context(source="test"):
        route = ingress_route_save(route=IngressRoute(customer=customer, rate_card=retail))
    t0 = (timezone.now() + timedelta(seconds=2)).replace(microsecond=0)
    return SimpleNamespace(customer=customer, cheap=cheap, retail=retail, premium=premium, route=route, t0=t0,
                           provider=cheap.provider_id)


def ingest(world: SimpleNamespace, call_id: str, talk: int | None, *, reason: str = "Downstream BYE",
           offset: int = 0) -> Cdr:
    """One CDR through cdrs_ingest: `talk` seconds after a 4 s ring (None: not answered, 486)."""
    start = world.t0 + timedelta(seconds=offset)
    answer = start + timedelta(seconds=4) if talk is not None else None
    end = answer + timedelta(seconds=talk) if answer is not None else start + timedelta(seconds=3)
    record = {"call_id": call_id, "customer": world.customer.pk, "ip": SIMULATE_IP, "cli": "441234567890",
              "dst": "447911123456", "start": iso(start), "answer": iso(answer) if answer else None,
              "end": iso(end), "sip_code": 200 if answer else 486, "release_reason": reason if answer else "",
              "provider": world.provider}
    result = cdrs_ingest(records=[record], source="api")
    assert result.errors == [] and result.new == 1, result
    return Cdr.objects.get(call_id=call_id)
