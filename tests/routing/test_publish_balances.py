"""The routing publication queues balances.json (written by the cdrs app's handler, tests/cdrs/test_balances_file.py)
instead of writing balances itself: routing sits below the ledger that moves them."""

from __future__ import annotations

import pytest

from trunkline.core.models import Job
from trunkline.routing.snapshot import PUBLISH_BALANCES, snapshot_publish

pytestmark = pytest.mark.django_db


def test_publication_queues_the_balances_publication_and_writes_no_balances_itself(
        tmp_path, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_publish(tmp_path / "routing-snapshot.json")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["routing-snapshot.json"]
    assert list(Job.objects.filter(kind=PUBLISH_BALANCES).values_list("debounced", "status")) == [
        (True, Job.Status.QUEUED)]
