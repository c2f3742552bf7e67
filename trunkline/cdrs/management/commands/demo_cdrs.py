"""`trunkline demo_cdrs`: demo CDRs of the last 30 days for the demo customers (after `trunkline demo`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trunkline.cdrs.demo import demo_cdrs_create
from trunkline.cdrs.models import Cdr
from trunkline.core.context import change_context


class Command(BaseCommand):
    help = ("Ingest a few thousand demo CDRs of the last 30 days for the demo customers (rated on their cards, "
            "charged to the ledger, counted in the stats). Idempotent: CDRs made before are left as they are.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=3000, help="Calls to make (default 3000).")
        parser.add_argument("--if-empty", action="store_true", help="Only when there are no CDRs yet.")

    def handle(self, *args: Any, count: int, if_empty: bool, **options: Any) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1.")
        if if_empty and Cdr.objects.exists():
            self.stdout.write("CDRs exist already; no demo CDRs made.")
            return
        with change_context(source="command"):
            result = demo_cdrs_create(count=count)
        if result.errors:
            raise CommandError(f"The demo CDRs do not ingest: {result.errors[:5]}")
        self.stdout.write(f"Demo CDRs: {result.new} new, {result.duplicates} already there.")
