"""decide(): DESIGN.md "The call decision", steps 1-9, with every row of the reject-codes table."""

from __future__ import annotations

import dataclasses
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from trunkline.contracts import codec
from trunkline.contracts.snapshot import (
    AuthKind,
    CardWeight,
    CliRule,
    Customer,
    CustomerStatus,
    Gateway,
    IngressRoute,
    IpAuth,
    ParameterRewrite,
    Provider,
    RateCard,
    RateRow,
    RateStatus,
    Recording,
    RewriteType,
    RoutingSnapshot,
    SipUser,
    Strategy,
)
from trunkline.switch.auth import digest_response, ha1
from trunkline.switch.counters import CUSTOMER, IP_AUTH, PROVIDER, ROUTE, SIP_USER, MemoryCounters
from trunkline.switch.decide import decide
from trunkline.switch.index import SnapshotIndex
from trunkline.switch.trace import Step
from trunkline.switch.types import Call, Decision, Digest

D = Decimal
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
IP = "192.0.2.10"
NUMBER = "441234567890"

CUSTOMER_CARD = 1
CARD_A, CARD_B, CARD_C = 11, 12, 13


def providers() -> tuple[Provider, ...]:
    return (Provider(101, "Alpha", (Gateway("a.example"),)), Provider(102, "Bravo", (Gateway("b.example", 5080),)),
            Provider(103, "Charlie", (Gateway("c.example"),), tech_prefix="77#"))


def cards(sell: RateRow | None = None, a: RateRow | None = None, b: RateRow | None = None,
          c: RateRow | None = None) -> tuple[RateCard, ...]:
    def rows(row: RateRow | None, default: str) -> tuple[RateRow, ...]:
        return (row or RateRow("44", D(default)),)

    return (RateCard(CUSTOMER_CARD, "Retail", "USD", (*rows(sell, "0.05"), RateRow("1", D("0.01"))),
                     egress_card_ids=(CARD_A, CARD_B, CARD_C)),
            RateCard(CARD_A, "Alpha", "USD", rows(a, "0.02"), provider_id=101),
            RateCard(CARD_B, "Bravo", "USD", rows(b, "0.01"), provider_id=102),
            RateCard(CARD_C, "Charlie", "USD", rows(c, "0.03"), provider_id=103))


def snapshot(*, customer: Customer | None = None, route: IngressRoute | None = None,
             rate_cards: tuple[RateCard, ...] | None = None, **extra: Any) -> RoutingSnapshot:
    base: dict[str, Any] = {
        "customers": (customer or Customer(1, "Acme"),),
        "ip_auths": (IpAuth(1, 1, IP),),
        "providers": providers(),
        "ingress_routes": (route or IngressRoute(1, 1, CUSTOMER_CARD),),
        "rate_cards": rate_cards or cards(),
    }
    base.update(extra)
    return RoutingSnapshot(1, NOW, **base)


BALANCE = D(10)


def funded(balance: Decimal = BALANCE) -> MemoryCounters:
    """Counters giving customers 1 and 2 (all these tests use) `balance`: balances are not in the snapshot."""
    counters = MemoryCounters()
    for customer_id in (1, 2):
        counters.set_balance(customer_id, balance)
    return counters


def run(snap: RoutingSnapshot, call: Call | None = None, counters: MemoryCounters | None = None,
        seed: int = 1) -> Decision:
    return decide(SnapshotIndex(snap), counters or funded(), call or Call(IP, NUMBER, "15551234567"),
                  random.Random(seed))


def names(decision: Decision) -> list[str]:
    return [route.provider.name for route in decision.routes]


def rejected(decision: Decision, code: int, reason: str) -> None:
    assert (decision.accepted, decision.code, decision.reason) == (False, code, reason), [
        str(line) for line in decision.trace]
    assert not decision.trace[-1].ok


# --- accept ----------------------------------------------------------------------------------------------


def test_a_call_routes_by_lcr_with_everything_the_switch_needs() -> None:
    decision = run(snapshot())
    assert decision.accepted and decision.code == 200
    assert names(decision) == ["Bravo", "Alpha", "Charlie"]
    first = decision.routes[0]
    assert first.gateways == (Gateway("b.example", 5080),) and first.card_id == CARD_B
    assert first.cost == D("0.01") and first.margin == D("0.04")
    assert decision.routes[2].provider.tech_prefix == "77#" and decision.destination == NUMBER
    assert decision.customer is not None and decision.customer.id == 1
    assert decision.rate is not None and decision.rate.prefix == "44"
    assert [line.step for line in decision.trace] == list(Step)
    assert all(line.ok for line in decision.trace)
    assert decision.recording is False
    assert str(decision.trace[0]) == f"identify: source {IP}:5060 is IP-auth entry #1 ({IP})"
    assert str(decision.trace[-1]) == "egress: lcr order: Bravo 0.01/min, Alpha 0.02/min, Charlie 0.03/min"


def test_the_snapshot_index_works_from_a_file_round_trip() -> None:
    snap = snapshot()
    assert names(run(codec.loads(codec.dumps(snap)))) == names(run(snap))


# --- reject-codes table, one test per row --------------------------------------------------------------


def test_unknown_source_ip() -> None:
    decision = run(snapshot(), Call("198.51.100.1", NUMBER, "1"))
    rejected(decision, 403, "IP Not Authorised")
    assert str(decision.trace[-1]) == ("identify: REJECT source 198.51.100.1 matches no IP-auth entry: "
                                       "403 IP Not Authorised")


def test_a_receives_only_entry_does_not_identify_callers() -> None:
    snap = snapshot(ip_auths=(IpAuth(1, 1, IP, direction="receives"),))  # type: ignore[arg-type]
    rejected(run(snap), 403, "IP Not Authorised")


def test_cidr_entries_match_most_specific_first() -> None:
    snap = snapshot(customers=(Customer(1, "Wide"), Customer(2, "Narrow")),
                    ip_auths=(IpAuth(1, 1, "192.0.2.0/24"), IpAuth(2, 2, "192.0.2.8/29")),
                    ingress_routes=(IngressRoute(1, 1, CUSTOMER_CARD), IngressRoute(2, 2, CUSTOMER_CARD)))
    assert run(snap, Call("192.0.2.9", NUMBER, "1")).customer.id == 2  # type: ignore[union-attr]
    assert run(snap, Call("192.0.2.200", NUMBER, "1")).customer.id == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("status", "reason"), [
    (CustomerStatus.INACTIVE, "Account Inactive"),
    (CustomerStatus.PENDING_APPROVAL, "Account Pending Approval"),
    (CustomerStatus.PENALTY, "Account Penalty"),
])
def test_customer_not_active(status: CustomerStatus, reason: str) -> None:
    rejected(run(snapshot(customer=Customer(1, "Acme", status))), 403, reason)


@pytest.mark.parametrize("customer", [
    Customer(1, "Acme", email_verification=True),
    Customer(1, "Acme", mobile_verification=True, email_verified=True),
])
def test_verification_missing(customer: Customer) -> None:
    rejected(run(snapshot(customer=customer)), 403, "Verification Required")


def test_verification_done_passes() -> None:
    customer = Customer(1, "Acme", email_verification=True, email_verified=True)
    assert run(snapshot(customer=customer)).accepted


def test_cli_rejected_by_cli_rules() -> None:
    snap = snapshot(cli_rules=(CliRule(1, 1, cli="^1555"),))
    rejected(run(snap, Call(IP, NUMBER, "4420")), 403, "CLI restriction in effect")
    assert run(snap, Call(IP, NUMBER, "15550000")).accepted


def test_no_ingress_route() -> None:
    rejected(run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, tech_prefix="9#"))), 580, "No Route Available")


def test_a_disabled_route_is_skipped() -> None:
    rejected(run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, enabled=False))), 580, "No Route Available")


def test_dial_string_does_not_allow_the_number() -> None:
    decision = run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, dial_string="^1")))
    rejected(decision, 503, "Blocked by Dial plan")
    assert str(decision.trace[-1]) == (f"route: REJECT no dial string of the routes with no tech prefix allows "
                                       f"{NUMBER}: 503 Blocked by Dial plan")
    assert run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, dial_string="^44"))).accepted


def test_ip_auth_dial_pattern_reads_the_routed_number() -> None:
    # After the parameter rewrite (0 -> 44) and with the route's tech prefix (9#) stripped: as received,
    # neither 9#... nor 0... matches ^44.
    def routed(pattern: str, dialled: str) -> Decision:
        return run(snapshot(ip_auths=(IpAuth(1, 1, IP, dial_pattern=pattern),),
                            route=IngressRoute(1, 1, CUSTOMER_CARD, tech_prefix="9#"),
                            parameter_rewrites=(ParameterRewrite(1, AuthKind.IP, 1, RewriteType.DESTINATION, "9#0",
                                                                 "9#44"),)), Call(IP, dialled, "1"))

    for dialled in ("9#" + NUMBER, "9#0" + NUMBER[2:]):
        decision = routed(r"^44\d{10}$", dialled)
        assert decision.accepted and decision.destination == NUMBER, [str(line) for line in decision.trace]
    decision = routed("^1", "9#" + NUMBER)
    rejected(decision, 503, "Blocked by Dial plan")
    assert str(decision.trace[-1]) == (f"route: REJECT IP-auth entry #1 dial pattern ^1 does not allow {NUMBER}: "
                                       f"503 Blocked by Dial plan")
    assert decision.customer is not None and decision.auth is not None and decision.route is None
    # A SIP user has no dial pattern: the same call from one routes.
    snap = snapshot(ip_auths=(IpAuth(1, 1, IP, dial_pattern="^1"),),
                    sip_users=(SipUser(1, 1, "alice", ha1("alice", REALM, "s3cret")),))
    assert run(snap, Call(IP, NUMBER, "1", sip_user="alice", digest=signed("s3cret"))).accepted


def test_no_customer_rate() -> None:
    rejected(run(snapshot(), Call(IP, "33123", "1")), 503, "No Routes Available (Pre)")


def test_a_blocked_row_never_routes_even_under_an_active_shorter_prefix() -> None:
    base = cards()
    blocked = dataclasses.replace(base[0], rows=(*base[0].rows, RateRow("4412", D("0.05"), status=RateStatus.BLOCKED)))
    rejected(run(snapshot(rate_cards=(blocked, *base[1:]))), 503, "No Routes Available (Pre)")


def test_every_provider_removed_by_lock_exclude_or_missing_rate() -> None:
    locked_to_missing = IngressRoute(1, 1, CUSTOMER_CARD, lock=(99,))
    rejected(run(snapshot(route=locked_to_missing)), 503, "No Routes Available (U)")
    all_excluded = IngressRoute(1, 1, CUSTOMER_CARD, exclude=(CARD_A, CARD_B, CARD_C))
    rejected(run(snapshot(route=all_excluded)), 503, "No Routes Available (U)")
    no_provider_rates = cards(a=RateRow("33", D(1)), b=RateRow("33", D(1)), c=RateRow("4412", D(1),
                                                                                    status=RateStatus.BLOCKED))
    rejected(run(snapshot(rate_cards=no_provider_rates)), 503, "No Routes Available (U)")


def test_every_provider_removed_by_profit_assurance() -> None:
    expensive = cards(sell=RateRow("44", D("0.01")), a=RateRow("44", D("0.02")), b=RateRow("44", D("0.03")),
                      c=RateRow("44", D("0.04")))
    route = IngressRoute(1, 1, CUSTOMER_CARD, profit_assurance=True)
    rejected(run(snapshot(route=route, rate_cards=expensive)), 503, "No Routes Available (Profit Assurance)")
    # Without profit assurance the same call routes at a loss.
    assert run(snapshot(rate_cards=expensive)).accepted


@pytest.mark.parametrize("scope", [CUSTOMER, IP_AUTH, ROUTE])
def test_channel_limit(scope: str) -> None:
    snap = snapshot(customer=Customer(1, "Acme", channels=2),
                    ip_auths=(IpAuth(1, 1, IP, channels=2),), route=IngressRoute(1, 1, CUSTOMER_CARD, channels=2))
    counters = funded()
    counters.set(scope, 1, channels=1)
    assert run(snap, counters=counters).accepted
    counters.set(scope, 1, channels=2)
    rejected(run(snap, counters=counters), 503, "Channel Limit Reached")


@pytest.mark.parametrize("scope", [CUSTOMER, IP_AUTH, ROUTE])
def test_cps_limit(scope: str) -> None:
    snap = snapshot(customer=Customer(1, "Acme", cps=5),
                    ip_auths=(IpAuth(1, 1, IP, cps=5),), route=IngressRoute(1, 1, CUSTOMER_CARD, cps=5))
    counters = funded()
    counters.set(scope, 1, cps=5)
    rejected(run(snap, counters=counters), 503, "CPS Limit Reached")


def limited_providers(alpha: tuple[int, int] = (0, 0), bravo: tuple[int, int] = (0, 0),
                      charlie: tuple[int, int] = (0, 0)) -> tuple[Provider, ...]:
    """providers() with (channels, cps) limits."""
    return tuple(provider.__class__(provider.id, provider.name, provider.gateways, channels=limits[0],
                                    cps=limits[1], tech_prefix=provider.tech_prefix)
                 for provider, limits in zip(providers(), (alpha, bravo, charlie), strict=True))


def test_a_provider_at_its_channel_or_cps_limit_leaves_the_egress() -> None:
    snap = snapshot(providers=limited_providers(alpha=(2, 0), bravo=(0, 3)))
    counters = funded()
    counters.set(PROVIDER, 101, channels=1)
    counters.set(PROVIDER, 102, cps=2)
    assert names(run(snap, counters=counters)) == ["Bravo", "Alpha", "Charlie"]
    counters.set(PROVIDER, 102, cps=3)
    decision = run(snap, counters=counters)
    assert decision.accepted and names(decision) == ["Alpha", "Charlie"]
    assert [str(line) for line in decision.trace[-2:]] == [
        "egress: left out at their limits: Bravo (CPS)", "egress: lcr order: Alpha 0.02/min, Charlie 0.03/min"]
    counters.set(PROVIDER, 101, channels=2)
    assert names(run(snap, counters=counters)) == ["Charlie"]
    # Charlie has no limit: counts on it change nothing.
    counters.set(PROVIDER, 103, channels=1000, cps=1000)
    assert names(run(snap, counters=counters)) == ["Charlie"]


@pytest.mark.parametrize(("first", "reason"), [((1, 0), "Channel Limit Reached"), ((0, 1), "CPS Limit Reached")])
def test_every_provider_at_its_limits_rejects_with_the_first_ones_reason(first: tuple[int, int],
                                                                         reason: str) -> None:
    # Bravo is first in LCR order, so its reason is the call's.
    snap = snapshot(providers=limited_providers(alpha=(0, 1), bravo=first, charlie=(1, 1)))
    counters = funded()
    counters.set(PROVIDER, 101, cps=1)
    counters.set(PROVIDER, 102, channels=first[0], cps=first[1])
    counters.set(PROVIDER, 103, channels=1)
    decision = run(snap, counters=counters)
    rejected(decision, 503, reason)
    kind = "channels" if first[0] else "CPS"
    assert str(decision.trace[-1]) == (f"egress: REJECT every provider is at its limits: Bravo ({kind}), "
                                       f"Alpha (CPS), Charlie (channels): 503 {reason}")
    # The reserve names what a routed call would take: a 60 s slice at 0.05/min.
    assert decision.routes == () and decision.rate is not None and decision.reserve == D("0.050000")
    counters.set(PROVIDER, 103, channels=0)
    assert names(run(snap, counters=counters)) == ["Charlie"]


def test_zero_limits_are_unlimited() -> None:
    counters = funded()
    for scope in (CUSTOMER, IP_AUTH, ROUTE):
        counters.set(scope, 1, channels=10_000, cps=10_000)
    for provider in (101, 102, 103):
        counters.set(PROVIDER, provider, channels=10_000, cps=10_000)
    assert names(run(snapshot(), counters=counters)) == ["Bravo", "Alpha", "Charlie"]


def test_insufficient_balance_counts_reservations_and_debit_limit() -> None:
    # 0.60/min, 60/60: the first increment costs 0.60.
    rated = cards(sell=RateRow("44", D("0.60"), mcd=60, pulse=60))
    decision = run(snapshot(rate_cards=rated), counters=funded(D("0.50")))
    rejected(decision, 402, "Insufficient Balance")
    # A reject keeps what the steps before it found, for the simulator to show.
    assert decision.route is not None and decision.rate is not None and decision.rate.rate == D("0.60")
    with_credit = Customer(1, "Acme", debit_limit=D("0.10"))
    assert run(snapshot(customer=with_credit, rate_cards=rated), counters=funded(D("0.50"))).accepted
    counters = funded(D("0.50"))
    counters.reserve(1, D("0.01"))
    rejected(run(snapshot(customer=with_credit, rate_cards=rated), counters=counters), 402, "Insufficient Balance")


def test_the_balance_is_read_from_the_counters_on_every_call() -> None:
    # Schema v3: a charge moves the balance without a new snapshot; the same index sees it on the next call.
    index = SnapshotIndex(snapshot(customer=Customer(1, "Acme", debit_limit=D("0.01"))))
    counters = MemoryCounters()
    decision = decide(index, counters, Call(IP, NUMBER, "1"))  # 0.05/min, 1/1: the first second costs 0.000833
    assert decision.accepted and decision.max_duration == 12  # 0.01 of credit buys 12 s
    counters.set_balance(1, D("-0.01"))
    rejected(decide(index, counters, Call(IP, NUMBER, "1")), 402, "Insufficient Balance")
    assert decide(index, counters, Call(IP, NUMBER, "1")).trace[-1].args[:2] == (D("0.00"), D("0.000833"))
    counters.set_balance(1, D("1"))
    assert decide(index, counters, Call(IP, NUMBER, "1")).max_duration == 1212


def test_customer_rate_above_the_capped_rate() -> None:
    rejected(run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, capped_rate=D("0.04")))), 503, "Rate Above Cap")
    assert run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, capped_rate=D("0.05")))).accepted


def test_block_connect_cost() -> None:
    fee = cards(sell=RateRow("44", D("0.05"), connection_fee=D("0.01")))
    route = IngressRoute(1, 1, CUSTOMER_CARD, block_connect_cost=True)
    rejected(run(snapshot(route=route, rate_cards=fee)), 503, "Connect Cost Blocked")
    assert run(snapshot(route=route)).accepted
    assert run(snapshot(rate_cards=fee)).accepted


# --- SIP users and digest ------------------------------------------------------------------------------

REALM = "trunkline"


def user_snapshot(whitelist: tuple[str, ...] = ()) -> RoutingSnapshot:
    return snapshot(ip_auths=(), sip_users=(SipUser(7, 1, "alice", ha1("alice", REALM, "s3cret"),
                                                    ip_whitelist=whitelist),))


def signed(password: str, qop: str = "auth") -> Digest:
    unsigned = Digest(REALM, "abc123", f"sip:{NUMBER}@trunkline", "", qop=qop,
                      nc="00000001" if qop else "", cnonce="xyz" if qop else "")
    return unsigned._replace(response=digest_response(ha1("alice", REALM, password), unsigned))


def test_rfc_2617_example_response() -> None:
    # RFC 2617 §3.5: Mufasa / Circle Of Life / testrealm@host.com.
    digest = Digest("testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "/dir/index.html",
                    "6629fae49393a05397450978507c4ef1", "GET", "auth", "00000001", "0a4f113b")
    assert digest_response(ha1("Mufasa", "testrealm@host.com", "Circle Of Life"), digest) == digest.response


def test_sip_user_without_credentials_is_challenged() -> None:
    decision = run(user_snapshot(), Call(IP, NUMBER, "1", sip_user="alice"))
    assert (decision.accepted, decision.code, decision.challenge) == (False, 407, True)


@pytest.mark.parametrize("qop", ["auth", ""])
def test_sip_user_with_a_good_digest_routes(qop: str) -> None:
    decision = run(user_snapshot(), Call("203.0.113.5", NUMBER, "1", sip_user="alice", digest=signed("s3cret", qop)))
    assert decision.accepted and decision.auth is not None and decision.auth.id == 7


def test_sip_user_wrong_digest_or_unknown_user() -> None:
    rejected(run(user_snapshot(), Call(IP, NUMBER, "1", sip_user="alice", digest=signed("guess"))), 403,
             "Unknown User")
    rejected(run(user_snapshot(), Call(IP, NUMBER, "1", sip_user="bob", digest=signed("s3cret"))), 403,
             "Unknown User")


def test_sip_user_whitelist_applies() -> None:
    snap = user_snapshot(("198.51.100.0/24",))
    assert run(snap, Call("198.51.100.20", NUMBER, "1", sip_user="alice", digest=signed("s3cret"))).accepted
    rejected(run(snap, Call(IP, NUMBER, "1", sip_user="alice", digest=signed("s3cret"))), 403, "IP Not Authorised")


def test_sip_user_limits_use_the_user_scope() -> None:
    snap = snapshot(ip_auths=(), sip_users=(SipUser(7, 1, "alice", ha1("alice", REALM, "s3cret"), channels=1),))
    counters = funded()
    counters.set(SIP_USER, 7, channels=1)
    rejected(run(snap, Call(IP, NUMBER, "1", sip_user="alice", digest=signed("s3cret")), counters), 503,
             "Channel Limit Reached")


# --- tech prefix and shared IPs -------------------------------------------------------------------------


def test_longest_tech_prefix_wins_and_is_stripped() -> None:
    routes = (IngressRoute(1, 1, CUSTOMER_CARD, tech_prefix="1"), IngressRoute(2, 1, CUSTOMER_CARD, tech_prefix="12#"),
              IngressRoute(3, 1, CUSTOMER_CARD))
    decision = run(snapshot(ingress_routes=routes), Call(IP, "12#" + NUMBER, "1"))
    assert decision.route is not None and decision.route.id == 2 and decision.destination == NUMBER
    assert str(decision.trace[4]) == f"route: ingress route #2 (tech prefix 12#): 12#{NUMBER} -> {NUMBER}"
    decision = run(snapshot(ingress_routes=routes), Call(IP, NUMBER, "1"))
    assert decision.route is not None and decision.route.id == 3 and decision.destination == NUMBER
    assert str(decision.trace[4]) == f"route: ingress route #3 (no tech prefix): {NUMBER} -> {NUMBER}"


def test_routes_sharing_a_tech_prefix_are_told_apart_by_dial_string() -> None:
    routes = (IngressRoute(1, 1, CUSTOMER_CARD, dial_string="^1"), IngressRoute(2, 1, CUSTOMER_CARD, dial_string="^44"))
    assert run(snapshot(ingress_routes=routes)).route.id == 2  # type: ignore[union-attr]


def shared(cli_auth: bool = False, **extra: Any) -> RoutingSnapshot:
    base: dict[str, Any] = {
        "customers": (Customer(1, "One"), Customer(2, "Two")),
        "ip_auths": (IpAuth(1, 1, IP, cli_authentication=cli_auth), IpAuth(2, 2, IP, cli_authentication=cli_auth)),
        "ingress_routes": (IngressRoute(1, 1, CUSTOMER_CARD, tech_prefix="11#"),
                           IngressRoute(2, 2, CUSTOMER_CARD, tech_prefix="22#")),
    }
    base.update(extra)
    return snapshot(**base)


def test_shared_ip_is_told_apart_by_tech_prefix() -> None:
    assert run(shared(), Call(IP, "22#" + NUMBER, "1")).customer.id == 2  # type: ignore[union-attr]
    assert run(shared(), Call(IP, "11#" + NUMBER, "1")).customer.id == 1  # type: ignore[union-attr]
    rejected(run(shared(), Call(IP, NUMBER, "1")), 403, "IP Not Authorised")


def test_shared_ip_without_tech_prefixes_is_ambiguous() -> None:
    routes = (IngressRoute(1, 1, CUSTOMER_CARD), IngressRoute(2, 2, CUSTOMER_CARD))
    rejected(run(shared(ingress_routes=routes)), 403, "IP Not Authorised")


def test_shared_ip_is_told_apart_by_cli_authentication() -> None:
    routes = (IngressRoute(1, 1, CUSTOMER_CARD), IngressRoute(2, 2, CUSTOMER_CARD))
    rules = (CliRule(1, 1, cli="^1555"), CliRule(2, 2, cli="^44"))
    snap = shared(True, ingress_routes=routes, cli_rules=rules)
    assert run(snap, Call(IP, NUMBER, "4420111")).customer.id == 2  # type: ignore[union-attr]
    assert run(snap, Call(IP, NUMBER, "15551111")).customer.id == 1  # type: ignore[union-attr]
    rejected(run(snap, Call(IP, NUMBER, "3312")), 403, "IP Not Authorised")
    rejected(run(shared(False, ingress_routes=routes, cli_rules=rules), Call(IP, NUMBER, "4420111")), 403,
             "IP Not Authorised")


# --- rewrites then CLI rules -----------------------------------------------------------------------------


def test_parameter_rewrite_runs_in_order_before_cli_rules() -> None:
    rewrites = (ParameterRewrite(2, AuthKind.IP, 1, RewriteType.CLI, "0", "44", order=2),
                ParameterRewrite(1, AuthKind.IP, 1, RewriteType.CLI, "+", "", order=1),
                ParameterRewrite(3, AuthKind.IP, 1, RewriteType.DESTINATION, "0", "44", order=1))
    # The CLI rule only allows 44...: a CLI of +0207... passes because "+" is stripped, then 0 -> 44.
    snap = snapshot(parameter_rewrites=rewrites, cli_rules=(CliRule(1, 1, cli="^44", rewrite_cli="999"),))
    decision = run(snap, Call(IP, "01234567890", "+02071234567"))
    assert decision.accepted, [str(line) for line in decision.trace]
    assert decision.destination == NUMBER and decision.cli == "999"
    rewrite_lines = [line for line in decision.trace if line.step == Step.REWRITE]
    assert [line.args[1] for line in rewrite_lines] == [1, 3, 2]
    rejected(run(snapshot(cli_rules=(CliRule(1, 1, cli="^44"),)), Call(IP, NUMBER, "+02071234567")), 403,
             "CLI restriction in effect")


def test_catastrophic_patterns_in_every_rule_decide_in_linear_time() -> None:
    """`^(\\d+)+x` fails on 26 digits after about 2^26 steps in a backtracking engine (3 s at 25 with `re`);
    here it fails in each of a rewrite, a CLI rule and a dial string, and the call still routes at once."""
    catastrophic = r"^(\d+)+x"
    number = "44" + "1" * 26
    rewrites = (ParameterRewrite(1, AuthKind.IP, 1, RewriteType.CLI, catastrophic, "0"),
                ParameterRewrite(2, AuthKind.IP, 1, RewriteType.DESTINATION, catastrophic, "0"))
    rules = (CliRule(1, 1, cli=catastrophic), CliRule(2, 1, cli=".*", pai=catastrophic),
             CliRule(3, 1, cli=".*", dialed_number_match=catastrophic), CliRule(4, 1, cli="^1"))
    routes = (IngressRoute(1, 1, CUSTOMER_CARD, dial_string=catastrophic),
              IngressRoute(2, 1, CUSTOMER_CARD, dial_string="^44"))
    index = SnapshotIndex(snapshot(parameter_rewrites=rewrites, cli_rules=rules, ingress_routes=routes))
    started = time.perf_counter()
    decision = decide(index, funded(), Call(IP, number, "1" * 26, pai="1" * 26), random.Random(1))
    assert time.perf_counter() - started < 0.05
    assert decision.accepted, [str(line) for line in decision.trace]
    assert (decision.route.id, decision.destination, decision.cli) == (2, number, "1" * 26)  # type: ignore[union-attr]
    assert [line.message for line in decision.trace if line.step == Step.CLI] == [
        f"rule #4 `^1` matched: CLI {'1' * 26} -> {'1' * 26}, PAI {'1' * 26} -> {'1' * 26}"]


# --- egress order ----------------------------------------------------------------------------------------


def test_lcr_ties_break_on_connection_fee_then_name() -> None:
    tied = cards(a=RateRow("44", D("0.01")), b=RateRow("44", D("0.01"), connection_fee=D("0.001")),
                 c=RateRow("44", D("0.01")))
    assert names(run(snapshot(rate_cards=tied))) == ["Alpha", "Charlie", "Bravo"]


def test_reverse_lcr() -> None:
    assert names(run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, strategy=Strategy.REVERSE_LCR)))) == [
        "Charlie", "Alpha", "Bravo"]


def test_weighted_order_follows_weights_and_keeps_all_for_failover() -> None:
    route = IngressRoute(1, 1, CUSTOMER_CARD, strategy=Strategy.WEIGHTED,
                         weights=(CardWeight(CARD_A, 8), CardWeight(CARD_B, 1), CardWeight(CARD_C, 1)))
    index = SnapshotIndex(snapshot(route=route))
    rng = random.Random(7)
    firsts = [decide(index, funded(), Call(IP, NUMBER, "1"), rng).routes[0].provider.name
              for _ in range(2000)]
    assert 0.75 < firsts.count("Alpha") / 2000 < 0.85
    assert sorted(names(decide(index, funded(), Call(IP, NUMBER, "1"), rng))) == ["Alpha", "Bravo", "Charlie"]
    # Seeded: the same order again.
    assert names(run(snapshot(route=route), seed=3)) == names(run(snapshot(route=route), seed=3))


def test_lock_and_exclude() -> None:
    assert names(run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, lock=(CARD_A, CARD_C))))) == ["Alpha", "Charlie"]
    assert names(run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, exclude=(CARD_B,))))) == ["Alpha", "Charlie"]


def test_provider_capped_rate_drops_dearer_providers() -> None:
    route = IngressRoute(1, 1, CUSTOMER_CARD, provider_capped_rate=D("0.02"))
    assert names(run(snapshot(route=route))) == ["Bravo", "Alpha"]


def test_inactive_provider_is_skipped() -> None:
    inactive = (*providers()[:1], dataclasses.replace(providers()[1], status="inactive"), providers()[2])
    assert names(run(snapshot(providers=inactive))) == ["Alpha", "Charlie"]


def test_profit_assurance_counts_increments_which_the_per_minute_check_misses() -> None:
    # Equal per-minute rates: ConnexCS keeps the provider. Buying 30/6 and selling 6/6 loses money on a 6 s
    # call (buy 30 s billed vs sell 6 s), so it must go.
    sell = RateRow("44", D("0.02"), mcd=6, pulse=6)
    rated = cards(sell=sell, a=RateRow("44", D("0.02"), mcd=30, pulse=6), b=RateRow("44", D("0.02"), mcd=6, pulse=6),
                  c=RateRow("44", D("0.019"), connection_fee=D("0.001")))
    route = IngressRoute(1, 1, CUSTOMER_CARD, profit_assurance=True)
    assert names(run(snapshot(route=route, rate_cards=rated))) == ["Bravo"]
    assert names(run(snapshot(rate_cards=rated))) == ["Charlie", "Alpha", "Bravo"]


def test_profit_assurance_counts_grace_on_each_side() -> None:
    sell = RateRow("44", D("0.02"), grace=10)  # a 6 s call is free to the customer
    rated = cards(sell=sell, a=RateRow("44", D("0.01")), b=RateRow("44", D("0.01"), grace=6),
                  c=RateRow("44", D("0.001"), grace=10))
    route = IngressRoute(1, 1, CUSTOMER_CARD, profit_assurance=True)
    assert names(run(snapshot(route=route, rate_cards=rated))) == ["Charlie", "Bravo"]


# --- max duration and recording --------------------------------------------------------------------------


def test_max_duration_is_what_the_money_buys_after_the_fee_in_whole_pulses() -> None:
    # Available 1.00 + 0.50 - 0.20 = 1.30; fee 0.10 leaves 1.20 = 72 s at 1.00/min; 30/6 -> 72 s.
    rated = cards(sell=RateRow("44", D("1.00"), connection_fee=D("0.10"), mcd=30, pulse=6))
    customer = Customer(1, "Acme", debit_limit=D("0.50"))
    counters = funded(D("1.00"))
    counters.reserve(1, D("0.20"))
    decision = run(snapshot(customer=customer, rate_cards=rated), counters=counters)
    # The first 60 s slice: fee 0.10 + 1.00/min x 60 s (within the 1.30 available).
    assert decision.max_duration == 72 and decision.reserve == D("1.100000")
    # 1.25 after the fee buys 75 s: whole 6 s pulses after the 30 s MCD give 72 s.
    counters.reserve(1, D("0.15"))
    assert run(snapshot(customer=customer, rate_cards=rated), counters=counters).max_duration == 72


def test_max_duration_is_capped_by_the_route() -> None:
    route = IngressRoute(1, 1, CUSTOMER_CARD, max_duration=3600)
    assert run(snapshot(route=route), counters=funded(D("1000"))).max_duration == 3600
    assert run(snapshot(), counters=funded(D("1"))).max_duration == 1200


def test_free_rate_takes_the_route_cap_or_none() -> None:
    free = cards(sell=RateRow("44", D(0)))
    assert run(snapshot(rate_cards=free)).max_duration is None
    assert run(snapshot(rate_cards=free, route=IngressRoute(1, 1, CUSTOMER_CARD, max_duration=60))).max_duration == 60


def test_recording_flag() -> None:
    assert run(snapshot(route=IngressRoute(1, 1, CUSTOMER_CARD, recording=Recording.ALWAYS))).recording
    route = IngressRoute(1, 1, CUSTOMER_CARD, recording=Recording.SAMPLE_25)
    index = SnapshotIndex(snapshot(route=route))
    rng = random.Random(5)
    share = sum(decide(index, funded(), Call(IP, NUMBER, "1"), rng).recording for _ in range(4000)) / 4000
    assert 0.2 < share < 0.3


def test_memoised_egress_lists_are_per_route_settings() -> None:
    # Same number and card, two routes with different settings, one index: each gets its own list, repeatedly.
    routes = (IngressRoute(1, 1, CUSTOMER_CARD, tech_prefix="1#", lock=(CARD_A,)),
              IngressRoute(2, 1, CUSTOMER_CARD, tech_prefix="2#", exclude=(CARD_A,)),
              IngressRoute(3, 1, CUSTOMER_CARD, tech_prefix="3#", strategy=Strategy.REVERSE_LCR))
    index = SnapshotIndex(snapshot(ingress_routes=routes))
    for _ in range(2):
        got = [names(decide(index, funded(), Call(IP, tech + NUMBER, "1"))) for tech in ("1#", "2#", "3#")]
        assert got == [["Alpha"], ["Bravo", "Charlie"], ["Charlie", "Alpha", "Bravo"]]
