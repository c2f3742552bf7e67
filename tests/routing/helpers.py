"""Builders for routing test data; every write runs in a change context, as real writers do."""

from itertools import count
from typing import Any

from trunkline.core.context import change_context
from trunkline.routing.models import Provider, RateCard, RateRevision
from trunkline.routing.services import rate_card_import, rate_card_save

_sequence = count(1)
HEADER = "prefix,name,rate,connection_fee,mcd,pulse,grace,status\n"


def make_provider(**fields: Any) -> Provider:
    data: dict[str, Any] = {"name": f"Provider {next(_sequence):04d}",
                            "gateways": [{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]}
    data.update(fields)
    with change_context(source="test"):
        provider = Provider(**data)
        provider.full_clean()
        provider.save()
    return provider


def make_card(*, egress_cards: list[RateCard] | None = None, **fields: Any) -> RateCard:
    data: dict[str, Any] = {"name": f"Card {next(_sequence):04d}", "kind": "customer", "currency": "USD"}
    data.update(fields)
    if data["kind"] == "provider" and "provider" not in data:
        data["provider"] = make_provider()
    with change_context(source="test"):
        return rate_card_save(card=RateCard(**data), egress_cards=egress_cards)


def load_rates(card: RateCard, lines: str, **options: Any) -> RateRevision:
    """Import `lines` (CSV rows in the export layout, no header) and return the new revision."""
    with change_context(source="test"):
        result = rate_card_import(card=card, text=HEADER + lines, **options)
    assert not result.errors, result.errors
    return result.revision
