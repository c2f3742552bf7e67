"""The loader and the switch's disconnect line: a call the switch ended at the end of its paid time is released
"Balance Disconnect", whatever the edge's ended event says and in whichever batch either line comes."""

from __future__ import annotations

import pytest

from tests.cdrs.helpers import T0, attempt, event, write_spool
from trunkline.cdrs.models import CallRecord
from trunkline.cdrs.services.loading import load_spool

pytestmark = pytest.mark.django_db


def _lines(call_id: str) -> list[dict[str, object]]:
    return [attempt(call_id), event("answered", call_id, T0 + 2, provider=None, dialog={"h_entry": 1, "h_id": 2}),
            event("disconnect", call_id, T0 + 62, reason="Balance Disconnect"),
            event("ended", call_id, T0 + 62.2, release_reason="MI Termination", duration=60)]


def test_a_disconnect_line_makes_the_release_reason_balance_disconnect(settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    write_spool("calls-sw1-1-000001.jsonl", _lines("one-batch"))
    two = _lines("two-batches")
    write_spool("calls-sw1-2-000001.jsonl", two[:3])
    load_spool()
    write_spool("calls-sw1-2-000001.jsonl", two[3:], append=True)  # the ended line in a later batch
    load_spool()
    write_spool("calls-sw1-3-000001.jsonl", [*_lines("plain")[:2], _lines("plain")[3]])
    load_spool()
    assert dict(CallRecord.objects.values_list("call_id", "release_reason")) == {
        "one-batch": "Balance Disconnect", "two-batches": "Balance Disconnect", "plain": "MI Termination"}
    assert CallRecord.objects.get(call_id="two-batches").duration == 60
