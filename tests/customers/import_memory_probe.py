"""Child process of test_import_limits.test_a_large_import_keeps_memory_bounded (and bench/customer_import.py):
imports each CSV file named on the command line as customers, in turn, and prints one JSON line with each
summary, the seconds each took and the process's peak resident memory after the first and after the last."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from trunkline.core.bulk_import import import_csv  # noqa: E402
from trunkline.core.context import change_context  # noqa: E402
from trunkline.customers.api.serializers import CustomerSerializer  # noqa: E402


def peak_mb() -> float:
    """This process's own peak resident memory. Not getrusage's ru_maxrss: Linux carries that across fork and exec,
    so a child of a large pytest process would report its parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(paths: list[str]) -> None:
    summaries, seconds, peaks = [], [], []
    for path in paths:
        started = time.perf_counter()
        with open(path, "rb") as file, change_context(source="command"):
            result = import_csv(serializer_class=CustomerSerializer, source=file, context={},
                                required_columns=("name", "currency"))
        seconds.append(round(time.perf_counter() - started, 1))
        summaries.append(result.summary)
        peaks.append(round(peak_mb(), 1))
    print(json.dumps({"summaries": summaries, "seconds": seconds, "warm_peak_mb": peaks[0], "peak_mb": peaks[-1]}))


if __name__ == "__main__":
    main(sys.argv[1:])
