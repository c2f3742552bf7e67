"""Customers sharing a source IP, told apart at save time exactly as the call decision tells them apart
(DESIGN.md, Behaviour rules; trunkline.switch.decide, step 1).

At call time the most specific IP-auth network holding the source address wins, so only entries of other customers
with the very same network share it; a wider or narrower overlapping network is reported, never refused. Among the
customers sharing one network, the longest tech prefix of their *enabled ingress routes* that starts the dialled
number decides; customers tied on a prefix are then told apart only if CLI authentication is on for all of their
entries and each one's outbound CLI rules can refuse a CLI. Anything else is a 403 IP Not Authorised, never a
guess, so it is refused when it is saved (an IP-auth entry here; an ingress route or a CLI rule through
check_customer_change()).

The IP-auth tech prefix is not read: domain.md §3.5 calls it legacy, and the switch never used it to identify.

The facts about routes and CLI rules belong to the routing app, which sits above this one (pyproject.toml's
layers): it registers a CustomerFacts source here when it is loaded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection

from trunkline.sipauth.choices import Direction
from trunkline.sipauth.models import IpAuth

FIX = ("Give the customers' ingress routes different tech prefixes, or turn on CLI authentication on both entries "
       "with CLI rules for each customer.")


@dataclass(frozen=True)
class CustomerFacts:
    """What the call decision reads to tell a customer's calls from a shared IP apart."""

    prefixes: frozenset[str]  # tech prefixes of the enabled ingress routes ("" for a route without one)
    every_cli_passes: bool  # no outbound CLI rule, or one that accepts any CLI unconditionally


# Any constant: PostgreSQL advisory locks are keyed by a number; IP-auth and ingress-route writes share this one.
_SHARED_IP_LOCK_KEY = 0x5149_5041  # "SIPA"


def serialise_shared_ip_writes() -> None:
    """Two writes each checked against the other's missing row (the same IP added for two customers, a route
    saved as a customer joins its IP) must take turns; call inside the writing transaction. PostgreSQL: a
    transaction-scoped advisory lock. SQLite (the single-machine default) allows one writer at a time already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SHARED_IP_LOCK_KEY])


FactsSource = Callable[[Collection[int]], dict[int, CustomerFacts]]
_source: FactsSource | None = None


def register_facts_source(function: FactsSource) -> None:
    global _source
    _source = function


def _facts(customer_ids: Collection[int]) -> dict[int, CustomerFacts]:
    if _source is None:
        # Never a silent pass: a shared IP the switch cannot tell apart would drop calls.
        raise RuntimeError("No source of ingress-route facts is registered (is trunkline.routing installed?).")
    return _source(customer_ids)


def _prefixes(prefixes: Iterable[str]) -> str:
    return ", ".join(prefix or "(none)" for prefix in sorted(prefixes)) or "no enabled ingress route"


def _clash(ours: IpAuth, our_facts: CustomerFacts, theirs: IpAuth, their_facts: CustomerFacts) -> str | None:
    """Why calls from the network both entries name could not be told apart, or None if they can."""
    common = our_facts.prefixes & their_facts.prefixes
    if not common:
        return None
    if ours.cli_authentication and theirs.cli_authentication and not (
            our_facts.every_cli_passes or their_facts.every_cli_passes):
        return None
    shared = ", ".join(f"tech prefix {prefix}" if prefix else "no tech prefix" for prefix in sorted(common))
    if not (ours.cli_authentication and theirs.cli_authentication):
        cli = "CLI authentication is not on for both entries"
    else:
        open_names = [entry.customer.name for entry, facts in ((ours, our_facts), (theirs, their_facts))
                      if facts.every_cli_passes]
        cli = (f"the outbound CLI rules of {' and of '.join(open_names)} let every CLI through (no rule, or one "
               f"matching any CLI without a condition)")
    return f"both customers have an enabled ingress route with {shared}, and {cli}"


def _how(ours: IpAuth, our_facts: CustomerFacts, theirs: IpAuth, their_facts: CustomerFacts) -> str:
    common = our_facts.prefixes & their_facts.prefixes
    if not common:
        return (f"calls are told apart by the tech prefixes of their ingress routes ({ours.customer.name}: "
                f"{_prefixes(our_facts.prefixes)}; {theirs.customer.name}: {_prefixes(their_facts.prefixes)})")
    return (f"calls with {_prefixes(common)} as the longest tech prefix are told apart by CLI authentication (a "
            f"CLI both customers' rules accept is refused)")


_CHUNK = 1000


def _overlaps(one: ipaddress.IPv4Network | ipaddress.IPv6Network,
              other: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return one.version == other.version and one.overlaps(other)


def shared_ip_warnings(entry: IpAuth) -> list[str]:
    """Warnings about other customers' entries overlapping `entry`; ValidationError on `ip` if one with the same
    network cannot be told apart from it. Only entries that send calls identify a customer."""
    if entry.direction != Direction.SENDS:
        return []
    network = entry.network
    # Every other entry is compared (an overlap is not a text match), so only (id, ip) pairs are read for it:
    # building a model with its customer for each one made a save cost ~65 µs per stored entry, on every row of an
    # import. The few that overlap are then read whole.
    candidates = (IpAuth.objects.filter(direction=Direction.SENDS).exclude(customer_id=entry.customer_id)
                  .exclude(pk=entry.pk).values_list("pk", "ip"))
    ids = sorted(pk for pk, ip in candidates if _overlaps(ipaddress.ip_network(ip, strict=False), network))
    if not ids:
        return []
    # In chunks: a wide network (0.0.0.0/0) overlaps every entry, past SQLite's limit of variables in one query.
    overlapping = [other for start in range(0, len(ids), _CHUNK) for other in IpAuth.objects.filter(
        pk__in=ids[start:start + _CHUNK]).select_related("customer").order_by("id")]
    facts = _facts({entry.customer_id, *(other.customer_id for other in overlapping)})
    empty = CustomerFacts(frozenset(), every_cli_passes=True)
    ours = facts.get(entry.customer_id, empty)
    errors: list[str] = []
    warnings: list[str] = []
    for other in overlapping:
        where = f"customer {other.customer.name} (IP auth #{other.pk}, {other.ip})"
        if other.network != network:
            ours_narrower = network.num_addresses < other.network.num_addresses
            narrower, owner = (entry.ip, "this entry") if ours_narrower else (
                other.ip, f"{other.customer.name}'s entry")
            warnings.append(f"{entry.ip} overlaps {where}: calls from {narrower} come to {owner}, the more "
                            f"specific one.")
            continue
        theirs = facts.get(other.customer_id, empty)
        reason = _clash(entry, ours, other, theirs)
        if reason is None:
            warnings.append(f"{entry.ip} is shared with {where}; {_how(entry, ours, other, theirs)}.")
        else:
            errors.append(f"{entry.ip} is also the IP of {where}, and calls from it could not be told apart: "
                          f"{reason}. {FIX}")
    if errors:
        raise ValidationError({"ip": errors})
    return warnings


def check_customer_change(*, customer_id: int, field: str, prefixes: frozenset[str] | None = None,
                          every_cli_passes: bool | None = None) -> None:
    """Refuse (on `field`) a change of a customer's routes (`prefixes`: its enabled route prefixes after it) or CLI
    rules (`every_cli_passes` after it) that would leave calls from an IP it shares impossible to tell apart.
    Call inside the change's transaction: it takes the shared-IP lock."""
    serialise_shared_ip_writes()
    ours_entries = list(IpAuth.objects.filter(customer_id=customer_id, direction=Direction.SENDS)
                        .select_related("customer").order_by("id"))
    if not ours_entries:
        return
    others = list(IpAuth.objects.filter(direction=Direction.SENDS, ip__in={entry.ip for entry in ours_entries})
                  .exclude(customer_id=customer_id).select_related("customer").order_by("id"))
    if not others:
        return
    facts = _facts({customer_id, *(other.customer_id for other in others)})
    empty = CustomerFacts(frozenset(), every_cli_passes=True)
    stored = facts.get(customer_id, empty)
    ours = CustomerFacts(stored.prefixes if prefixes is None else prefixes,
                         stored.every_cli_passes if every_cli_passes is None else every_cli_passes)
    errors = []
    for entry in ours_entries:
        for other in others:
            # The ip column holds normalised networks, so equal text is the same network.
            if other.ip != entry.ip:
                continue
            reason = _clash(entry, ours, other, facts.get(other.customer_id, empty))
            if reason is not None:
                errors.append(f"{entry.customer.name} shares {entry.ip} with customer {other.customer.name} (IP "
                              f"auth #{other.pk}), and calls from it could not be told apart: {reason}. {FIX}")
    if errors:
        raise ValidationError({field: errors})
