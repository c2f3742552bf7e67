"""What the call decision reads to tell customers sharing a source IP apart (trunkline.sipauth.sharing): the
tech prefixes of their enabled ingress routes, and whether their outbound CLI rules can refuse a CLI. The routing
app registers this source with sipauth (which sits below it) when it is loaded, and checks route changes."""

from __future__ import annotations

from collections.abc import Collection

from trunkline.routing.choices import CliDirection, UseDid
from trunkline.routing.models import CliRule, IngressRoute
from trunkline.sipauth.sharing import CustomerFacts, check_route_prefixes


def customer_facts(customer_ids: Collection[int]) -> dict[int, CustomerFacts]:
    """The facts of each customer in `customer_ids` (a customer without routes or rules gets no prefixes and
    passes every CLI, as the switch would)."""
    prefixes: dict[int, set[str]] = {customer_id: set() for customer_id in customer_ids}
    for customer_id, prefix in IngressRoute.objects.filter(customer_id__in=customer_ids, enabled=True).values_list(
            "customer_id", "tech_prefix"):
        prefixes[customer_id].add(prefix)
    with_rules: set[int] = set()
    open_rules: set[int] = set()
    for customer_id, cli, forced, pai, dialed, use_did in CliRule.objects.filter(
            customer_id__in=customer_ids).exclude(direction=CliDirection.INBOUND).values_list(
            "customer_id", "cli", "forced", "pai", "dialed_number_match", "use_did"):
        with_rules.add(customer_id)
        # trunkline.switch.cli: a rule with no condition whose CLI is empty (any) or which is Forced (a CLI
        # matching no rule is replaced) accepts every CLI. No rule at all accepts every CLI too.
        if (not cli or forced) and not pai and not dialed and use_did != UseDid.FILTER:
            open_rules.add(customer_id)
    return {customer_id: CustomerFacts(frozenset(found), customer_id not in with_rules or customer_id in open_rules)
            for customer_id, found in prefixes.items()}


def check_route_change(route: IngressRoute) -> None:
    """Refuse a route save that would make calls from an IP its customer shares impossible to tell apart. Only a
    change that can add a prefix is checked (a new or re-enabled route, a new prefix or customer): disabling or
    editing other fields never makes it worse, and must stay possible where an old clash exists."""
    if not route.enabled:
        return
    if route.pk is not None:
        before = IngressRoute.objects.filter(pk=route.pk).values_list("customer_id", "tech_prefix", "enabled").first()
        if before == (route.customer_id, route.tech_prefix, True):
            return
    prefixes = set(IngressRoute.objects.filter(customer_id=route.customer_id, enabled=True).exclude(
        pk=route.pk).values_list("tech_prefix", flat=True))
    check_route_prefixes(customer_id=route.customer_id, prefixes=frozenset({*prefixes, route.tech_prefix}))
