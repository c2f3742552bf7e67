"""Reads of rate cards: the rows of a revision as the CSV export writes them."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator

from trunkline.contracts import snapshot
from trunkline.core.csv_safety import safe_cell
from trunkline.routing.models import CliRule, Rate, RateRevision
from trunkline.routing.ratefile import COLUMNS, format_amount
from trunkline.switch.cli import CliResult, CliRuleSet


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


def cli_rules_evaluate(*, customer_id: int, cli: str, pai: str | None, dialed: str, direction: str,
                       seed: int | None = None) -> CliResult:
    """What the switch does with a call's CLI and P-Asserted-ID under the customer's saved rules: the Testing box
    and POST /api/v1/cli-rules/test/ both answer with this. Writes nothing. A seed makes Forced picks repeatable."""
    rules = CliRuleSet([rule.to_contract() for rule in CliRule.objects.filter(customer_id=customer_id).order_by("id")])
    rng = random.Random(seed) if seed is not None else None
    return rules.evaluate(cli, pai, dialed, snapshot.CliDirection(direction), rng=rng)
