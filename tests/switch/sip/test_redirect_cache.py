"""The Contact block's templates per provider sequence (redirect._TEMPLATES): the same bytes as building each
Contact afresh, and a reloaded index never answered (nor its attempt lines written) with the old index's gateways."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from decimal import Decimal
from pathlib import Path

from tests.switch.sip.test_message import SIPP_REQUEST
from tests.switch.test_engine import ACME_IP, CLI, NUMBER, Clock, Setup, balances, drive, snapshot
from trunkline.contracts.codec import write_snapshot
from trunkline.contracts.snapshot import Gateway, Provider, RateRow, Transport
from trunkline.switch.sip.redirect import _block, _block_uncached, build_redirect
from trunkline.switch.types import Call, Decision, Egress

RATE = RateRow("44", Decimal("0.0100"))
# Characters that need escaping somewhere, '%' above all (the templates are %-formats).
ODD = "09+#%@ <>&=;?/$,:[]\"'é*"


def _text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789" if rng.random() < 0.7 else ODD) for _ in range(length))


def _decision(rng: random.Random, routes: tuple[Egress, ...]) -> Decision:
    return Decision(True, 200, "Routed", (), destination=_text(rng, rng.randint(1, 14)),
                    cli=_text(rng, rng.randint(1, 12)) if rng.random() < 0.8 else "",
                    pai=_text(rng, rng.randint(1, 12)) if rng.random() < 0.5 else None, routes=routes)


def _routes(rng: random.Random) -> tuple[Egress, ...]:
    egresses = []
    for number in range(rng.randint(1, 4)):
        gateways = tuple(
            Gateway(rng.choice(["10.0.0.1", f"gw{index}.example.com", "[2001:db8::5]", "h%25x"]),
                    rng.choice([5060, 5080]), rng.choice(list(Transport)))
            for index in range(rng.randint(1, 5)))
        provider = Provider(number + 1, f"P{number}", gateways, tech_prefix=rng.choice(["", "99", "1#", "7%"]))
        egresses.append(Egress(provider, gateways, provider.id, RATE, Decimal("0.01"), Decimal("0.002")))
    return tuple(egresses)


def test_the_templates_give_the_uncached_bytes_for_generated_decisions() -> None:
    rng = random.Random(20261206)
    orders = [_routes(rng) for _ in range(40)]
    checked = 0
    for _ in range(2000):
        decision = _decision(rng, rng.choice(orders))
        expected = _block_uncached(decision)
        assert _block(decision) == expected
        assert _block(decision) == expected  # the second time from the template
        checked += 1
    assert checked == 2000


def test_a_reloaded_index_is_answered_with_its_own_gateways(tmp_path: Path) -> None:
    routing = tmp_path / "routing-snapshot.json"
    first = snapshot()
    write_snapshot(first, routing)
    balances(tmp_path / "balances.json", {"1": "10", "2": "100"})
    setup = Setup(routing, Clock())
    decision = setup.route("call-1")
    assert decision.accepted
    contacts = [line for line in build_redirect(SIPP_REQUEST, decision, "t").decode().split("\r\n")
                if line.startswith("Contact: ")]
    assert contacts == [f"Contact: <sip:{NUMBER}@b.example:5080?X-CLI={CLI}>;q=1.0",
                        f"Contact: <sip:{NUMBER}@B2.example:5060?X-CLI={CLI}>;q=0.9",
                        f"Contact: <sip:{NUMBER}@a.example:5060?X-CLI={CLI}>;q=0.8"]
    # Same providers, same ids and prefixes, other gateways and a tech prefix: the new index's Orders are new objects.
    providers = (dataclasses.replace(first.providers[0], gateways=(Gateway("a2.example", 5070, Transport.TCP),)),
                 dataclasses.replace(first.providers[1], gateways=(Gateway("b3.example"),), tech_prefix="55"))
    write_snapshot(dataclasses.replace(first, revision=2, providers=providers), routing)
    assert asyncio.run(setup.engine.reload_if_changed()) is True
    decision = drive(setup.engine.route(Call(ACME_IP, NUMBER, CLI), call_id="call-2", transport="udp"))
    contacts = [line for line in build_redirect(SIPP_REQUEST, decision, "t").decode().split("\r\n")
                if line.startswith("Contact: ")]
    assert contacts == [f"Contact: <sip:55{NUMBER}@b3.example:5060?X-CLI={CLI}>;q=1.0",
                        f"Contact: <sip:{NUMBER}@a2.example:5070;transport=tcp?X-CLI={CLI}>;q=0.9"]
    # The attempt lines' providers (engine._gateways_json keeps each gateway list's JSON) follow the reload too.
    setup.engine.flush()
    assert [line["providers"] for line in setup.lines()] == [
        [{"provider": 102, "card": 12, "rate": "0.01", "gateways": ["b.example:5080", "B2.example:5060"]},
         {"provider": 101, "card": 11, "rate": "0.02", "gateways": ["a.example:5060"]}],
        [{"provider": 102, "card": 12, "rate": "0.01", "gateways": ["b3.example:5060"]},
         {"provider": 101, "card": 11, "rate": "0.02", "gateways": ["a2.example:5070"]}]]
