"""balances.json version 2, as the worker writes it for the switch (trunkline/cdrs/services/balances.py), read
back by the switch's reader."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from tests.cdrs.helpers import attempt, write_spool
from tests.factories import make_customer
from trunkline.cdrs.models import SpoolCursor
from trunkline.cdrs.services.balances import balances_write
from trunkline.cdrs.services.loading import _stream_offset, load_spool_task
from trunkline.contracts.balances import BALANCES_FILE
from trunkline.core.jobs import enqueue_debounced, run_next_job
from trunkline.core.models import Job
from trunkline.customers.models import Customer
from trunkline.ledger.services import PUBLISH_BALANCES
from trunkline.switch.engine import read_balances_file

pytestmark = pytest.mark.django_db


def test_the_file_holds_balances_tax_rates_and_the_spool_positions_charged(tmp_path) -> None:
    first, second = make_customer(name="Alpha"), make_customer(name="Beta")
    Customer.objects.filter(pk=first.pk).update(balance=Decimal("12.345678"), tax_rate=Decimal("20"))
    Customer.objects.filter(pk=second.pk).update(balance=Decimal("-0.500000"))
    SpoolCursor.objects.create(file="calls-node1-42-000001.jsonl", offset=183422)
    SpoolCursor.objects.create(file="redis:trunkline:calls", offset=_stream_offset("1733500000123-4"))

    with mock.patch("trunkline.cdrs.services.balances.time.time", return_value=1733500000.25):
        path = balances_write(tmp_path / BALANCES_FILE)

    assert json.loads(path.read_text()) == {
        "version": 2, "written_at": 1733500000.25,
        "customers": {str(first.pk): {"balance": "12.345678", "tax_rate": "20.0000"},
                      str(second.pk): {"balance": "-0.500000", "tax_rate": "0.0000"}},
        "charged_through": {"calls-node1-42-000001.jsonl": 183422, "redis:trunkline:calls": "1733500000123-4"}}
    loaded = read_balances_file(path)
    assert loaded.balances == {first.pk: Decimal("12.345678"), second.pk: Decimal("-0.500000")}
    assert loaded.tax_rates == {first.pk: Decimal("20"), second.pk: Decimal("0")}
    assert loaded.charged_through == {"calls-node1-42-000001.jsonl": 183422,
                                      "redis:trunkline:calls": "1733500000123-4"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [BALANCES_FILE]  # no temporary file left


def test_the_job_writes_the_file_beside_the_routing_file(settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    customer = make_customer(name="Alpha")
    enqueue_debounced(PUBLISH_BALANCES)
    Job.objects.update(run_after=timezone.now() - timedelta(seconds=1))  # its debounce has passed
    job = run_next_job()
    assert job is not None and job.status == Job.Status.DONE and job.kind == PUBLISH_BALANCES
    assert read_balances_file(tmp_path / BALANCES_FILE).balances == {customer.pk: Decimal("0")}


def test_the_worker_queues_the_publication_after_loading_lines(settings, tmp_path) -> None:
    # A call charged nothing posts no ledger entry: the cursor's move alone must reach the switch.
    settings.VAR_DIR, settings.COUNTERS_URL = tmp_path, ""
    load_spool_task()
    assert not Job.objects.filter(kind=PUBLISH_BALANCES).exists()  # nothing loaded, nothing queued
    write_spool("calls-sw1-1-000001.jsonl", [attempt("quiet", code=402, reason="Insufficient Balance")])
    load_spool_task()
    assert list(Job.objects.filter(kind=PUBLISH_BALANCES).values_list("debounced", "status")) == [
        (True, Job.Status.QUEUED)]
