"""Reads of routing for the control panel and the API, by domain: a card's revisions and rows (and the CSV export),
a customer's routes and CLI rules (and the CLI Testing box), simulations. Views read through here; writes are in
services."""

from __future__ import annotations

import csv
import ipaddress
import random
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from trunkline.contracts import snapshot
from trunkline.core.csv_safety import safe_cell
from trunkline.customers.models import Customer
from trunkline.routing.models import CliRule, IngressRoute, Rate, RateCard, RateImport, RateRevision, SimulatedCall
from trunkline.routing.ratefile import COLUMNS, RateValues, format_amount
from trunkline.sipauth.choices import Direction
from trunkline.switch.cli import CliResult, CliRuleSet

#
# Rate cards
#


def revision_rates(*, revision: RateRevision | None, prefix: str = "") -> QuerySet[Rate]:
    """A revision's rows by prefix, only those starting with `prefix` when given; none without a revision."""
    if revision is None:
        return Rate.objects.none()
    rates = revision.rates.order_by("prefix")
    return rates.filter(prefix__startswith=prefix) if prefix else rates


def card_revisions(card: RateCard) -> QuerySet[RateRevision]:
    return card.revisions.order_by("-number")


def rollback_target(card: RateCard) -> RateRevision | None:
    """The revision a roll-back would make active again (the one live before the active one), or None when there is
    nothing to roll back to. services.ratecards.rate_card_rollback asks it too, on the locked card."""
    current = card.active_revision
    if current is None or current.activation_seq is None:
        return None
    return card.revisions.filter(activation_seq__lt=current.activation_seq).order_by("-activation_seq").first()


def revision_rate_values(revision: RateRevision) -> Iterator[RateValues]:
    """A revision's rows as the import reads them, in prefix order, streamed (for rate_diff)."""
    rows = revision.rates.order_by("prefix").values_list(*COLUMNS).iterator(chunk_size=5000)
    return (RateValues(*row) for row in rows)


def card_revision(card: RateCard, number: int | None) -> RateRevision | None:
    """Revision `number` of the card, or its active one when no number is given."""
    return card.active_revision if number is None else card.revisions.filter(number=number).first()


def customer_cards_using(card: RateCard) -> QuerySet[RateCard]:
    """The customer cards that name this provider card as an egress card."""
    return card.customer_cards.order_by("name")


def running_imports(card: RateCard) -> QuerySet[RateImport]:
    return card.imports.filter(finished__isnull=True).only("pk", "rows", "created")


class _Line:
    """csv.writer's target that hands back the line it was given, so rows stream without a buffer."""

    def write(self, value: str) -> str:
        return value


def rate_csv_lines(*, revision: RateRevision) -> Iterator[str]:
    """The header and one line per row, by prefix: the layout rate_card_import() reads by default."""
    writer = csv.writer(_Line(), lineterminator="\n")
    yield writer.writerow(COLUMNS)
    rows = Rate.objects.filter(revision=revision).order_by("prefix").values_list(*COLUMNS)
    for prefix, name, rate, fee, mcd, pulse, grace, status in rows.iterator(chunk_size=5000):
        # Names come from outside providers' decks: a formula there must not run in a spreadsheet. The import
        # takes the apostrophe off again (unquote_cell), so the file still imports back as it was.
        yield writer.writerow((prefix, safe_cell(name), format_amount(rate), format_amount(fee), mcd, pulse, grace,
                               status))


#
# Customer routes and CLI rules
#


def ingress_routes(customer: Customer) -> QuerySet[IngressRoute]:
    """The Routing tab's routes, with what each row shows: its card and that card's egress cards, lock, exclude."""
    return (customer.ingress_routes.select_related("rate_card")
            .prefetch_related("lock", "exclude", "rate_card__egress_cards").order_by("tech_prefix", "id"))


def cli_rules(customer: Customer) -> QuerySet[CliRule]:
    return customer.cli_rules.order_by("id")  # the order the switch tries them in


def cli_rules_evaluate(*, customer_id: int, cli: str, pai: str | None, dialed: str, direction: str,
                       seed: int | None = None) -> CliResult:
    """What the switch does with a call's CLI and P-Asserted-ID under the customer's saved rules: the Testing box
    and POST /api/v1/cli-rules/test/ both answer with this. Writes nothing. A seed makes Forced picks repeatable."""
    rules = CliRuleSet([rule.to_contract() for rule in CliRule.objects.filter(customer_id=customer_id).order_by("id")])
    rng = random.Random(seed) if seed is not None else None
    return rules.evaluate(cli, pai, dialed, snapshot.CliDirection(direction), rng=rng)


#
# Simulations
#


def customer_ip(customer: Customer) -> str:
    """The Customer IP the Simulate dialog starts with: of the customer's "sends" IP-auth entries, in the Auth tab's
    order, the first exact address, else the first host of the first network (a call comes from one address)."""
    networks = [ipaddress.ip_network(ip, strict=False) for ip in
                customer.ip_auths.filter(direction=Direction.SENDS).order_by("ip", "id").values_list("ip", flat=True)]
    exact = next((network for network in networks if network.num_addresses == 1), None)
    if exact is not None:
        return str(exact.network_address)
    return str(next(networks[0].hosts(), networks[0].network_address)) if networks else ""


def simulated_calls(customer: Customer | None = None) -> QuerySet[SimulatedCall]:
    """Kept simulations, newest first: the customer's (its Latest Calls tab), or everyone's (the Simulate page)."""
    calls = customer.simulated_calls.all() if customer is not None else SimulatedCall.objects.all()
    return calls.select_related("customer", "created_by")


def rate_cards_by_id(ids: Iterable[int]) -> dict[int, RateCard]:
    """The cards that still exist among `ids` (a simulation names cards that may have been deleted since)."""
    return RateCard.objects.in_bulk(ids)
