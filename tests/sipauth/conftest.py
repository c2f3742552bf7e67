"""The two customers the sipauth tests share an IP (or a username space) between."""

import pytest

from tests.factories import make_customer
from trunkline.customers.models import Customer


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom")


@pytest.fixture
def bolt(db) -> Customer:
    return make_customer(name="Bolt Voice")
