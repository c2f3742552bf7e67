"""balances.json version 2 (trunkline.contracts.balances): what the switch reads of the customers' money.

The ledger queues the debounced job PUBLISH_BALANCES after every transaction that moved a balance, and the
routing publication queues it too; the handler rewrites the whole file beside the routing file, atomically.

The spool cursors are read before the balances: a charge committed with its cursor before the first read is in
the balances read after it (each statement sees what was committed when it started), so a switch never lets a
call's reservation go on a cursor whose charge the balances do not hold yet. A charge committed between the two
reads is in the balances but not the cursor: the switch then counts that money twice (reserved and debited) for a
second, never neither.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from trunkline.cdrs.models import SpoolCursor
from trunkline.contracts.balances import BALANCES_FILE, BALANCES_VERSION, STREAM_CURSOR_PREFIX
from trunkline.core.jobs import Job, job_handler
from trunkline.customers.models import Customer
from trunkline.ledger.services import PUBLISH_BALANCES

PUBLISH_BALANCES_DEBOUNCE = timedelta(seconds=1)


def balances_data() -> dict[str, Any]:
    """The file's content: charged_through from the loader's cursors first, then every customer's balance and tax
    rate (see the module's text for the order)."""
    from trunkline.cdrs.services.loading import _stream_id  # the loader imports this module (its job's handler)

    charged: dict[str, int | str] = {}
    for name, offset in SpoolCursor.objects.order_by("file").values_list("file", "offset"):
        charged[name] = _stream_id(offset) if name.startswith(STREAM_CURSOR_PREFIX) else offset
    customers = {str(pk): {"balance": str(balance), "tax_rate": str(tax_rate)}
                 for pk, balance, tax_rate in Customer.objects.order_by("pk").values_list("pk", "balance", "tax_rate")}
    return {"version": BALANCES_VERSION, "written_at": time.time(), "customers": customers,
            "charged_through": charged}


def balances_write(target: Path | None = None) -> Path:
    """Write balances.json (beside the routing file unless `target` is given) atomically: temporary file, rename."""
    path = target or Path(settings.VAR_DIR) / BALANCES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = balances_data()
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


@job_handler(PUBLISH_BALANCES, debounce=PUBLISH_BALANCES_DEBOUNCE)
def publish_balances_job(job: Job) -> None:
    balances_write()
