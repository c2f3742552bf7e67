"""`trunkline ingest_cdrs FILE`: ingest a file of CDRs, one JSON object a line, as POST /api/v1/cdrs/ingest/ does
(rated, charged and counted; a (call_id, leg) stored already is a duplicate). Run it again after a failure: what
was written is counted as duplicates, the rest is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trunkline.cdrs.models import CdrSource
from trunkline.cdrs.services.ingest import BATCH_SIZE, cdrs_ingest
from trunkline.core.context import change_context


class Command(BaseCommand):
    help = ("Ingest CDRs from a JSON-lines file (or - for standard input): rated, charged to the ledger and counted "
            "in the rollups, a batch per transaction. Any bad line: the errors by line, and nothing is written.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The JSON-lines file, or - to read standard input.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="CDRs per transaction.")
        parser.add_argument("--source", choices=CdrSource.values, default=CdrSource.API.value)

    def handle(self, *args: Any, file: str, batch_size: int, source: str, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        records: list[Any] = []
        numbers: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as error:
                raise CommandError(f"Line {number}: not valid JSON: {error}.") from error
            numbers.append(number)
        with change_context(source="command"):
            result = cdrs_ingest(records=records, source=source, batch_size=batch_size)
        if result.errors:
            for error in result.errors:
                self.stderr.write(f"Line {numbers[error['line'] - 1]}: {error['field'] or 'line'}: "
                                  f"{error['message']}")
            raise CommandError(f"{len({error['line'] for error in result.errors})} lines have errors; nothing was "
                               f"written.")
        self.stdout.write(f"{result.new} new, {result.duplicates} duplicates.")
