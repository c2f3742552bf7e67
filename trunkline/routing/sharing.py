"""What the call decision reads to tell customers sharing a source IP apart (trunkline.sipauth.sharing): the
tech prefixes of their enabled ingress routes, and whether their outbound CLI rules can refuse a CLI. The routing
app registers this source with sipauth (which sits below it) when it is loaded, and checks route and CLI-rule
changes against it."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from trunkline.routing.choices import CliDirection, UseDid
from trunkline.routing.models import CliRule, IngressRoute
from trunkline.sipauth.sharing import CustomerFacts, check_customer_change

# The columns of a CLI rule that decide whether it accepts every CLI (_opens_every_cli).
_CLI_COLUMNS = ("cli", "forced", "pai", "dialed_number_match", "use_did")


def _opens_every_cli(cli: str, forced: bool, pai: str, dialed: str, use_did: str) -> bool:
    """trunkline.switch.cli: a rule with no condition whose CLI is empty (any) or which is Forced (a CLI matching
    no rule is replaced) accepts every CLI."""
    return (not cli or forced) and not pai and not dialed and use_did != UseDid.FILTER


def _every_cli_passes(rules: Sequence[tuple[str, bool, str, str, str]]) -> bool:
    """No outbound rule at all accepts every CLI too."""
    return not rules or any(_opens_every_cli(*rule) for rule in rules)


def customer_facts(customer_ids: Collection[int]) -> dict[int, CustomerFacts]:
    """The facts of each customer in `customer_ids` (a customer without routes or rules gets no prefixes and
    passes every CLI, as the switch would)."""
    prefixes: dict[int, set[str]] = {customer_id: set() for customer_id in customer_ids}
    for customer_id, prefix in IngressRoute.objects.filter(customer_id__in=customer_ids, enabled=True).values_list(
            "customer_id", "tech_prefix"):
        prefixes[customer_id].add(prefix)
    rules: dict[int, list[tuple[str, bool, str, str, str]]] = {customer_id: [] for customer_id in customer_ids}
    for customer_id, *rule in CliRule.objects.filter(customer_id__in=customer_ids).exclude(
            direction=CliDirection.INBOUND).values_list("customer_id", *_CLI_COLUMNS):
        rules[customer_id].append(tuple(rule))
    return {customer_id: CustomerFacts(frozenset(found), _every_cli_passes(rules[customer_id]))
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
    check_customer_change(customer_id=route.customer_id, field="tech_prefix",
                          prefixes=frozenset({*prefixes, route.tech_prefix}))


def _outbound_rules(customer_id: int, excluded_pk: int | None) -> list[tuple[str, bool, str, str, str]]:
    return [tuple(values) for values in CliRule.objects.filter(customer_id=customer_id).exclude(
        direction=CliDirection.INBOUND).exclude(pk=excluded_pk).values_list(*_CLI_COLUMNS)]


def check_cli_rule_change(rule: CliRule, *, deleting: bool = False) -> None:
    """Refuse saving (or, `deleting`, deleting) a CLI rule when it would leave the customer's outbound rules
    accepting every CLI while CLI authentication is what tells it apart on a shared IP: its last rule deleted,
    or a rule that accepts any CLI added. A rule moved to another customer is also a deletion for the one it
    leaves."""
    if rule.pk is not None and not deleting:
        left = CliRule.objects.filter(pk=rule.pk).values_list("customer_id", flat=True).first()
        if left is not None and left != rule.customer_id and _every_cli_passes(_outbound_rules(left, rule.pk)):
            check_customer_change(customer_id=left, field="customer", every_cli_passes=True)
    others = _outbound_rules(rule.customer_id, rule.pk)
    if not deleting and rule.direction != CliDirection.INBOUND:
        others.append((rule.cli, rule.forced, rule.pai, rule.dialed_number_match, rule.use_did))
    if not _every_cli_passes(others):
        return
    check_customer_change(customer_id=rule.customer_id, field="id" if deleting else "cli", every_cli_passes=True)
