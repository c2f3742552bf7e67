"""Simulate Call (issue 4, item 6): run the switch's own decide() on a fresh snapshot and explain the result.

The simulator builds the snapshot from the database on every call (slow next to a switch, fine for one
operator's click) so it shows what the next publication will do. Balances are not in the snapshot: decide()
reads them, as the switch does, through its Counters, here DatabaseCounters (the balance as it is now, no calls
up, nothing reserved).
"""

from __future__ import annotations

from typing import Any

from trunkline.contracts.snapshot import IpAuth
from trunkline.core.models import User
from trunkline.customers.models import Customer
from trunkline.routing.counters import DatabaseCounters
from trunkline.routing.models import SimulatedCall
from trunkline.routing.snapshot import snapshot_build
from trunkline.switch.auth import digest_response
from trunkline.switch.decide import decide
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.types import Call, Decision, Digest


def simulate_call(*, dst: str, cli: str, ip: str, user: str | None = None, pai: str | None = None) -> dict[str, Any]:
    index = SnapshotIndex(snapshot_build())
    call = Call(source_ip=ip, destination=dst, cli=cli, sip_user=user or "", pai=pai)
    known = index.users.get(call.sip_user)
    if known is not None:
        # The simulator has no password to answer the 407 challenge: it signs as the user would, from the stored
        # HA1, so the simulation shows what happens after a successful authentication.
        digest = Digest(realm="simulate", nonce="simulate", uri=f"sip:{dst}@simulate", response="")
        call = call._replace(digest=digest._replace(response=digest_response(known.ha1, digest)))
    return _result(call, decide(index, DatabaseCounters(), call))


def simulate_and_record(*, created_by: User | None, dst: str, cli: str, ip: str, user: str | None = None,
                        pai: str | None = None, asked_for: Customer | None = None) -> SimulatedCall:
    """simulate_call() kept as a SimulatedCall, listed on the Latest Calls of the customer the decision identified;
    when it identified none (an unknown IP, say), on `asked_for`'s, the card it was run from, so the operator
    finds the rejection where they asked."""
    result = simulate_call(dst=dst, cli=cli, ip=ip, user=user, pai=pai)
    identified = result["customer"]
    return SimulatedCall.objects.create(
        customer_id=identified["id"] if identified else asked_for.pk if asked_for else None, inputs=result["input"],
        result=result, created_by=created_by)


def _result(call: Call, decision: Decision) -> dict[str, Any]:
    auth = decision.auth
    route, rate = decision.route, decision.rate
    return {
        "routed": decision.accepted,
        "code": decision.code,
        "reason": decision.reason,
        "input": {"dst": call.destination, "cli": call.cli, "ip": call.source_ip, "user": call.sip_user or None,
                  "pai": call.pai},
        "customer": None if decision.customer is None else {"id": decision.customer.id,
                                                            "name": decision.customer.name},
        "auth": None if auth is None else (
            {"kind": "ip", "id": auth.id, "ip": auth.ip} if isinstance(auth, IpAuth)
            else {"kind": "sip_user", "id": auth.id, "username": auth.username}),
        "ingress_route": None if route is None else {"id": route.id, "tech_prefix": route.tech_prefix,
                                                     "rate_card_id": route.rate_card_id,
                                                     "strategy": str(route.strategy)},
        # `after` is what the decision made of the numbers: rewrites, CLI rules and tech-prefix stripping.
        "numbers": {"before": {"dst": call.destination, "cli": call.cli, "pai": call.pai},
                    "after": {"dst": decision.destination or None, "cli": decision.cli or None,
                              "pai": decision.pai} if route is not None else None},
        "rate": None if rate is None else {"prefix": rate.prefix, "name": rate.name, "rate": str(rate.rate),
                                           "connection_fee": str(rate.connection_fee), "mcd": rate.mcd,
                                           "pulse": rate.pulse, "grace": rate.grace},
        "egress": [{"provider": {"id": item.provider.id, "name": item.provider.name},
                    "gateway": [f"{gateway.host}:{gateway.port};transport={gateway.transport}"
                                for gateway in item.gateways],
                    "card_id": item.card_id, "prefix": item.rate.prefix, "cost": str(item.cost),
                    "margin": str(item.margin)} for item in decision.routes],
        "max_duration": decision.max_duration,
        "recording": decision.recording,
        "trace": [str(line) for line in decision.trace],
    }
