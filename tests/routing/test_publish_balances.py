"""The balances file published beside the routing file: what `trunkline switch` reads a customer's balance from."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.factories import make_customer
from trunkline.customers.models import Customer
from trunkline.routing.snapshot import snapshot_publish
from trunkline.switch.engine import BALANCES_FILE, read_balances

pytestmark = pytest.mark.django_db


def test_publication_writes_every_balance_beside_the_snapshot_as_the_switch_reads_it(tmp_path) -> None:
    first, second = make_customer(name="Alpha"), make_customer(name="Beta")
    Customer.objects.filter(pk=first.pk).update(balance=Decimal("12.345678"))
    Customer.objects.filter(pk=second.pk).update(balance=Decimal("-0.500000"))

    snapshot_publish(tmp_path / "routing-snapshot.json")

    path = tmp_path / BALANCES_FILE
    assert json.loads(path.read_text()) == {str(first.pk): "12.345678", str(second.pk): "-0.500000"}
    assert read_balances(path) == {first.pk: Decimal("12.345678"), second.pk: Decimal("-0.500000")}
    assert sorted(p.name for p in tmp_path.iterdir()) == [BALANCES_FILE, "routing-snapshot.json"]  # no temp left
