"""Reads of rate cards: the rows of a revision as the CSV export writes them."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from trunkline.routing.models import Rate, RateRevision
from trunkline.routing.ratefile import COLUMNS, format_amount


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
        yield writer.writerow((prefix, name, format_amount(rate), format_amount(fee), mcd, pulse, grace, status))
