"""Reads of routing for the control panel and the API, by domain: a card's revisions and rows (and the CSV export),
a customer's routes and CLI rules (and the CLI Testing box), simulations. Views read through here; writes are in
services."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator

from django.db.models import QuerySet

from trunkline.contracts import snapshot
from trunkline.core.csv_safety import safe_cell
from trunkline.routing.models import CliRule, Rate, RateCard, RateImport, RateRevision
from trunkline.routing.ratefile import COLUMNS, format_amount
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


def cli_rules_evaluate(*, customer_id: int, cli: str, pai: str | None, dialed: str, direction: str,
                       seed: int | None = None) -> CliResult:
    """What the switch does with a call's CLI and P-Asserted-ID under the customer's saved rules: the Testing box
    and POST /api/v1/cli-rules/test/ both answer with this. Writes nothing. A seed makes Forced picks repeatable."""
    rules = CliRuleSet([rule.to_contract() for rule in CliRule.objects.filter(customer_id=customer_id).order_by("id")])
    rng = random.Random(seed) if seed is not None else None
    return rules.evaluate(cli, pai, dialed, snapshot.CliDirection(direction), rng=rng)
