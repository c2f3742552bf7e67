"""`trunkline load_calls`: load the switch's call-event spool into call records (the worker does it every
second; this is one pass, or --follow to keep going)."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trunkline.cdrs.services.loading import BATCH_BYTES, LoadResult, load_spool
from trunkline.core.context import change_context


class Command(BaseCommand):
    help = "Load the call-event spool into call records: one pass, or --follow to keep loading until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--follow", action="store_true", help="Keep loading until Ctrl+C.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between passes with --follow.")
        parser.add_argument("--batch-bytes", type=int, default=BATCH_BYTES, help="Bytes of lines per transaction.")

    def handle(self, *args: Any, follow: bool, interval: float, batch_bytes: int, **options: Any) -> None:
        if batch_bytes < 1:
            self.stderr.write("--batch-bytes must be at least 1.")
            raise SystemExit(2)
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True  # finish the batch in hand, then leave

        if follow:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        while True:
            with change_context(source="command"):
                result = load_spool(batch_bytes=batch_bytes)
            if result.lines or not follow:
                self.stdout.write(_summary(result))
            if not follow or stopping:
                return
            time.sleep(interval)
            if stopping:
                return


def _summary(result: LoadResult) -> str:
    text = (f"Loaded {result.lines} line{'s' if result.lines != 1 else ''} in {result.batches} "
            f"batch{'es' if result.batches != 1 else ''}: {result.created} record{'s' if result.created != 1 else ''}"
            f" created, {result.updated} updated, {result.skipped} skipped")
    if result.deleted:
        text += f"; deleted {', '.join(result.deleted)}"
    return text + "."
