"""Number checks that read what a client sends run in linear time.

`\\d+\\.?\\d*` lets the engine split a run of digits two ways, so a long run followed by a letter was tried O(n²)
times: 20,000 digits took 5 s in a rate cell and 15 s in an export cell, and the API's decimal fields read any
length. Each case below sends 100,000 digits then `x`; the bound is loose on purpose (it separates linear from
quadratic on a busy machine; it does not measure speed).
"""

import time

import pytest
from django.urls import reverse

from tests.routing.helpers import make_card
from trunkline.core.csv_safety import safe_cell
from trunkline.core.money import is_scientific_notation
from trunkline.customers.models import Customer
from trunkline.routing.models import RateRevision

LONG = "1" * 100_000 + "x"
BOUND = 2.0


@pytest.mark.parametrize("check", [is_scientific_notation, safe_cell])
def test_the_helpers_read_long_digit_runs_in_linear_time(check) -> None:
    started = time.perf_counter()
    check(LONG)
    check("-" + LONG)
    assert time.perf_counter() - started < BOUND


def test_a_long_decimal_in_the_api_is_refused_quickly(api) -> None:
    started = time.perf_counter()
    response = api.post("/api/v1/customers/", {"name": "Acme", "currency": "USD", "debit_limit": LONG},
                        format="json")
    elapsed = time.perf_counter() - started

    assert response.status_code == 400
    assert response.json()["errors"] == {"debit_limit": ["String value too large."]}
    assert not Customer.objects.exists()
    assert elapsed < BOUND


def test_a_long_rate_cell_is_a_row_error_quickly(api, setup_context) -> None:
    card = make_card(name="Retail")
    deck = f"44,UK,0.012000,0.000000,1,1,0,active\n45,UK mobile,{LONG},0,1,1,0,active\n"
    started = time.perf_counter()
    response = api.post(reverse("api:ratecard-import-rates", args=[card.pk]) + "?start_row=1", deck.encode(),
                        content_type="text/csv")
    elapsed = time.perf_counter() - started

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["row 2"]
    assert list(response.json()["errors"]["row 2"]) == ["rate"]
    assert not RateRevision.objects.exists()
    assert elapsed < BOUND
