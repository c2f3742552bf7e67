"""route_call(): the fast path answers as decide() does, field for field but the trace, on calls of every shape.

The differential test generates a snapshot with every setting the decision reads (shared and network
addresses, SIP users, rewrites, dial patterns and strings, CLI rules that allow, rewrite or force, caps, locks,
reverse LCR and weighted routes, recording, inactive providers, blocked rows, fees, money finer than
micro-units) and counters with limits hit, low, negative and reserved balances, then decides a few thousand
calls both ways. bench/decide.py checks the same agreement on every call of the bench set.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trunkline.contracts.snapshot import (
    AuthKind,
    CardWeight,
    CliDirection,
    CliRule,
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    IpDirection,
    ParameterRewrite,
    Provider,
    ProviderStatus,
    RateCard,
    RateRow,
    RateStatus,
    Recording,
    RewriteType,
    RoutingSnapshot,
    SipUser,
    Strategy,
    UseDid,
)
from trunkline.switch.auth import digest_response, ha1
from trunkline.switch.cli import CliRuleSet
from trunkline.switch.counters import CUSTOMER, IP_AUTH, PROVIDER, ROUTE, SIP_USER, MemoryCounters
from trunkline.switch.decide import decide
from trunkline.switch.fast import FastIndex, route_call
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.types import Call, Decision, Digest

D = Decimal
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
REALM = "trunkline"
PROVIDER_CARDS = (11, 12, 13, 14, 15)
TERMS = ((1, 1, 0), (60, 6, 0), (60, 60, 0), (30, 6, 5), (0, 1, 0), (6, 6, 3), (6, 6, 30))  # the last: grace > MCD
SHARED_IP = "192.0.2.50"
UNKNOWN_IPS = ("198.51.100.7", "10.255.255.255", "not-an-address")
# (channels, cps) per provider card's provider: card 14's provider is unlimited, card 15's inactive.
PROVIDER_LIMITS = ((2, 0), (0, 1), (1, 1), (0, 0), (3, 3))
CUSTOMERS = 48
CALLS = 6_000


def _row(generator: random.Random, prefix: str) -> RateRow:
    mcd, pulse, grace = generator.choice(TERMS)
    fee = D(0) if generator.random() < 0.7 else D(generator.randint(1, 3000)).scaleb(-5)
    rate = D(generator.randint(0, 900)).scaleb(-4)
    if generator.random() < 0.01:
        rate += D("0.0000001")  # finer than micro-units: the fast path leaves the money to decide()
    return RateRow(prefix, rate, connection_fee=fee, mcd=mcd, pulse=pulse, grace=grace,
                   status=RateStatus.BLOCKED if generator.random() < 0.05 else RateStatus.ACTIVE)


def _cards(generator: random.Random) -> tuple[RateCard, ...]:
    found: set[str] = set()
    while len(found) < 150:
        found.add(str(generator.randint(1, 9)) + "".join(generator.choices("0123", k=generator.randint(0, 3))))
    pool = sorted(found)
    cards = [RateCard(1, "Retail", "USD", tuple(_row(generator, prefix) for prefix in generator.sample(pool, 110)),
                      egress_card_ids=PROVIDER_CARDS),
             RateCard(2, "Wholesale", "USD", tuple(_row(generator, prefix) for prefix in generator.sample(pool, 90)),
                      egress_card_ids=PROVIDER_CARDS[:3])]
    cards += [RateCard(card_id, f"Carrier {card_id}", "USD",
                       tuple(_row(generator, prefix) for prefix in generator.sample(pool, 80)),
                       provider_id=100 + card_id) for card_id in PROVIDER_CARDS]
    return tuple(cards)


def _route(generator: random.Random, route_id: int, customer_id: int, tech_prefix: str) -> IngressRoute:
    return IngressRoute(
        route_id, customer_id, generator.choice((1, 1, 2)), tech_prefix=tech_prefix,
        dial_string=generator.choice(("",) * 8 + (r"^[12]", r"^3\d+$")),
        enabled=generator.random() > 0.05, channels=generator.choice((0, 0, 3)), cps=generator.choice((0, 0, 2)),
        max_duration=generator.choice((0, 0, 0, 90, 3600)), recording=generator.choice(list(Recording)),
        profit_assurance=generator.random() < 0.5, capped_rate=D("0.05") if generator.random() < 0.15 else None,
        provider_capped_rate=D("0.04") if generator.random() < 0.15 else None,
        block_connect_cost=generator.random() < 0.1,
        lock=tuple(generator.sample(PROVIDER_CARDS, 2)) if generator.random() < 0.1 else (),
        exclude=(generator.choice(PROVIDER_CARDS),) if generator.random() < 0.1 else (),
        strategy=generator.choice((Strategy.LCR,) * 6 + (Strategy.REVERSE_LCR, Strategy.WEIGHTED)),
        weights=(CardWeight(11, 5), CardWeight(12, 0)))


def build(seed: int) -> tuple[RoutingSnapshot, MemoryCounters, list[Call]]:
    """A snapshot with every shape of call, counters, and the calls."""
    generator = random.Random(seed)
    customers, entries, routes, rules, rewrites, users = [], [], [], [], [], []
    sources: list[tuple[str, int]] = []  # (address, customer) a call may come from
    statuses = [CustomerStatus.INACTIVE, CustomerStatus.PENDING_APPROVAL, CustomerStatus.PENALTY]
    for number in range(1, CUSTOMERS + 1):
        status = statuses[number - 1] if number <= len(statuses) else CustomerStatus.ACTIVE
        # Customer 17's debit limit is finer than micro-units: the fast path leaves its calls to decide().
        debit = D("0.0000001") if number == 17 else generator.choice((D(0), D(0), D(5), D(1)))
        customers.append(Customer(number, f"Customer {number}", status=status, debit_limit=debit,
                                  channels=4 if number == 10 else generator.choice((0, 0, 4)),
                                  cps=3 if number == 20 else generator.choice((0, 0, 3)),
                                  email_verification=number == 4, email_verified=False))
        address = f"10.0.{number}.1"
        entries.append(IpAuth(2 * number, number, address, channels=generator.choice((0, 0, 2)),
                              cps=generator.choice((0, 0, 2)), dial_pattern=r"^[1-4]" if number % 11 == 0 else "",
                              direction=IpDirection.RECEIVES if number % 13 == 0 else IpDirection.SENDS))
        sources.append((address, number))
        if number % 5 == 0:  # a network: any address in it identifies the customer
            entries.append(IpAuth(2 * number + 1, number, f"172.16.{number}.0/29"))
            sources += [(f"172.16.{number}.{host}", number) for host in (0, 3, 7)]
        if number % 7 == 0:
            rewrites.append(ParameterRewrite(number, AuthKind.IP, 2 * number, RewriteType.DESTINATION, "0", "1"))
        prefixes = generator.choice(([""], [""], ["", "9#"], ["9#", "8#"], ["7#"]))
        for prefix in prefixes:
            for _ in range(generator.choice((1, 1, 1, 2))):
                routes.append(_route(generator, len(routes) + 1, number, prefix))
        shape = number % 6
        if shape == 1:
            rules.append(CliRule(len(rules) + 1, number, cli=r"^\d{6,15}$"))
        elif shape == 2:
            rules += [CliRule(len(rules) + 1, number, cli="^44", dialed_number_match="^[1-5]"),
                      CliRule(len(rules) + 2, number, cli="", pai=r"^\+"),
                      CliRule(len(rules) + 3, number, cli="^33", direction=CliDirection.INBOUND)]
        elif shape == 3 and number % 4 == 3:
            rules.append(CliRule(len(rules) + 1, number, cli=r"^(\d+)$", rewrite_cli=r"+\1"))
        elif shape == 4 and number % 4 == 0:
            rules.append(CliRule(len(rules) + 1, number, cli="15550001111", forced=True))
    # Two customers on one address, told apart by their routes' tech prefixes.
    for number, prefix in ((40, "1#"), (41, "2#")):
        entries.append(IpAuth(1000 + number, number, SHARED_IP))
        routes.append(IngressRoute(len(routes) + 1, number, 1, tech_prefix=prefix))
    users = [SipUser(1, 5, "alice", ha1("alice", REALM, "s3cret"), channels=1),
             SipUser(2, 6, "bob", ha1("bob", REALM, "pa55"), ip_whitelist=("10.0.6.0/24",))]
    snapshot = RoutingSnapshot(
        1, NOW, rate_cards=_cards(generator), customers=tuple(customers), ip_auths=tuple(entries),
        sip_users=tuple(users), parameter_rewrites=tuple(rewrites), cli_rules=tuple(rules),
        ingress_routes=tuple(routes),
        providers=tuple(Provider(100 + card, f"Carrier {card}", (Gateway(f"gw{card}.example"),),
                                 status=ProviderStatus.INACTIVE if card == 15 else ProviderStatus.ACTIVE,
                                 channels=channels, cps=cps)
                        for card, (channels, cps) in zip(PROVIDER_CARDS, PROVIDER_LIMITS, strict=True)))

    counters = MemoryCounters()
    for customer in customers:
        counters.set_balance(customer.id, generator.choice(
            (D(0), D("0.001"), D("0.05"), D(1), D(10), D(100), D(-1), D("10.0000001"))))
        if generator.random() < 0.2:
            counters.reserve(customer.id, D("0.5"))
        if generator.random() < 0.1:
            counters.set(CUSTOMER, customer.id, channels=4, cps=3)
    for entry in entries:
        if generator.random() < 0.1:
            counters.set(IP_AUTH, entry.id, channels=2, cps=generator.choice((0, 2)))
    for route in routes:
        if generator.random() < 0.1:
            counters.set(ROUTE, route.id, channels=generator.choice((0, 3)), cps=2)
    # Providers at their limits some of the time: a card's egress loses them, or all of card 2's (11-13).
    for card, (channels, cps) in zip(PROVIDER_CARDS, PROVIDER_LIMITS, strict=True):
        counters.set(PROVIDER, 100 + card, channels=generator.choice((0, channels)), cps=generator.choice((0, cps)))
    counters.set(SIP_USER, 1, channels=1)
    counters.set(CUSTOMER, 10, channels=4)  # at its limits, whatever was drawn
    counters.set(CUSTOMER, 20, cps=3)

    tech = ("", "", "", "9#", "8#", "7#", "1#", "2#")
    calls = []
    for _ in range(CALLS):
        pick = generator.random()
        number = str(generator.randint(1, 9)) + "".join(generator.choices("0123456789", k=generator.randint(5, 11)))
        cli = generator.choice(("4420712345", "33123456", "15550001111", "12", "4412"))
        pai = generator.choice((None, None, "+4420", "4420"))
        destination = generator.choice(tech) + number
        if pick < 0.04:
            user, password = generator.choice((("alice", "s3cret"), ("bob", "pa55"), ("bob", "wrong"), ("eve", "x")))
            digest = Digest(REALM, "n0nce", "sip:x@trunkline", "")
            digest = digest._replace(response=digest_response(ha1(user, REALM, password), digest))
            calls.append(Call(generator.choice(("10.0.6.1", "10.0.9.1")), destination, cli, sip_user=user,
                              digest=digest if generator.random() < 0.8 else None, pai=pai))
        elif pick < 0.07:
            calls.append(Call(generator.choice(UNKNOWN_IPS), destination, cli, pai=pai))
        elif pick < 0.1:
            calls.append(Call(SHARED_IP, generator.choice(("1#", "2#", "3#")) + number, cli, pai=pai))
        else:
            calls.append(Call(generator.choice(sources)[0], destination, cli, pai=pai))
    return snapshot, counters, calls


def differences(fast: Decision, traced: Decision) -> list[str]:
    """The fields in which the two answers differ, the trace aside (the fast path's is () or decide()'s)."""
    return [name for name, mine, theirs in zip(Decision._fields, fast, traced, strict=True)
            if name != "trace" and mine != theirs]


def test_a_difference_in_any_field_but_the_trace_is_caught() -> None:
    snapshot, counters, _ = build(1)
    traced = decide(SnapshotIndex(snapshot), counters, Call("10.0.5.1", "4412345678", "4420712345"))
    assert differences(traced._replace(trace=()), traced) == []
    for name in Decision._fields:
        if name != "trace":
            changed = traced._replace(**{name: object()})
            assert differences(changed, traced) == [name]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_path_answers_every_call_as_decide_does(seed: int) -> None:
    snapshot, counters, calls = build(seed)
    index = SnapshotIndex(snapshot)
    fast = FastIndex(SnapshotIndex(snapshot))  # its own index: nothing decide() memoised helps it
    answered: Counter[str] = Counter()  # by the fast path, per outcome
    fell_back: Counter[str] = Counter()
    for number, call in enumerate(calls):
        rng_fast, rng_traced = random.Random(number), random.Random(number)
        got, want = route_call(fast, counters, call, rng_fast), decide(index, counters, call, rng_traced)
        assert differences(got, want) == [], (call, got, want)
        assert rng_fast.getstate() == rng_traced.getstate(), call  # the same draws (recording, weighted, forced)
        assert want.trace, "decide() always traces"
        (answered if got.trace == () else fell_back)[f"{got.code} {got.reason}"] += 1
    # Every outcome the fast path takes on is met on it, and the fallback is exercised too.
    assert set(answered) >= {
        "200 Routed", "403 IP Not Authorised", "403 CLI restriction in effect", "580 No Route Available",
        "503 Channel Limit Reached", "503 CPS Limit Reached", "503 No Routes Available (Pre)",
        "503 Rate Above Cap", "503 Connect Cost Blocked", "402 Insufficient Balance",
        "503 No Routes Available (Profit Assurance)", "503 No Routes Available (U)"}, answered
    assert sum(answered.values()) > len(calls) / 3, (answered, fell_back)
    assert set(fell_back) >= {"200 Routed", "407 Proxy Authentication Required", "403 Unknown User",
                              "403 Account Inactive", "403 Verification Required", "503 Blocked by Dial plan"}, \
        fell_back


def test_each_shape_outside_the_fast_path_goes_to_decide() -> None:
    snapshot, counters, _ = build(1)
    fast = FastIndex(SnapshotIndex(snapshot))
    customers = {customer.id: customer for customer in snapshot.customers}

    def traced(call: Call) -> bool:
        return route_call(fast, counters, call, random.Random(1)).trace != ()

    digest = Digest(REALM, "n", "sip:x@trunkline", "")
    assert traced(Call("10.0.5.1", "4412345678", "1", sip_user="alice", digest=digest))
    assert traced(Call(SHARED_IP, "1#4412345678", "4420712345"))
    assert traced(Call("10.0.1.1", "4412345678", "4420712345"))  # customer 1 inactive
    assert traced(Call("10.0.7.1", "4412345678", "4420712345"))  # entry with a rewrite chain
    assert traced(Call("10.0.11.1", "4412345678", "4420712345"))  # entry with a dial pattern
    assert customers[17].debit_limit == D("0.0000001")
    assert traced(Call("10.0.17.1", "4412345678", "4420712345"))  # money finer than micro-units
    assert not traced(Call("198.51.100.7", "4412345678", "4420712345"))  # unknown source: answered


def test_an_allow_only_rule_set_passes_exactly_what_evaluate_allows_unchanged() -> None:
    # Every example of the CLI rule tables: a plain set (no rewrite, forced rule or DID filter) answers
    # passes() as evaluate() decides, and what it lets through leaves as it came; the others are not plain.
    from tests.switch.test_cli import DOMAIN_EXAMPLES, MISSION_TABLE, OTHER_SEMANTICS

    plain = 0
    for name, example in {**DOMAIN_EXAMPLES, **MISSION_TABLE, **OTHER_SEMANTICS}.items():
        rules = CliRuleSet(example.rules, example.dids)
        outbound = [rule for rule in example.rules if rule.direction == CliDirection.OUTBOUND]
        changes = any(rule.rewrite_cli or rule.rewrite_pai or rule.forced or rule.use_did == UseDid.FILTER
                      for rule in outbound)
        assert rules.plain is not changes, name
        if rules.plain:
            plain += 1
            result = rules.evaluate(example.cli, example.pai, example.dialed)
            assert rules.passes(example.cli, example.pai, example.dialed) is result.allowed, name
            assert (result.cli, result.pai) == (example.cli, example.pai), name
    assert plain >= 10
