"""CSV formula injection (issue 8, finding 6): board, grouped and rate-card exports write a cell that a spreadsheet
would run as a formula behind an apostrophe; numbers stay numbers; an exported deck still imports back as it was."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import make_customer
from tests.routing.helpers import HEADER, load_rates, make_card
from trunkline.core.csv_safety import safe_cell, unquote_cell
from trunkline.routing.models import Rate


@pytest.mark.parametrize(("value", "written"), [
    ("=1+1", "'=1+1"),
    ("+44 Sales", "'+44 Sales"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("'=1+1", "''=1+1"),  # already quoted by hand: one more, so it reads back as typed
    ("-5", "-5"),
    ("+44", "+44"),
    ("-1.5", "-1.5"),
    ("0.010000", "0.010000"),
    ("-1.5e3", "-1.5e3"),
    ("Acme = best", "Acme = best"),
    ("'s-Hertogenbosch", "'s-Hertogenbosch"),
    ("", ""),
    (Decimal("-5.000000"), Decimal("-5.000000")),
    (-5, -5),
    (None, None),
])
def test_safe_cell(value, written):
    assert safe_cell(value) == written


@pytest.mark.parametrize("value", ["=1+1", "'=1+1", "''@x", "-5", "+44 Sales", "'s-Hertogenbosch", "plain", "'"])
def test_unquote_gives_back_what_was_exported(value):
    assert unquote_cell(safe_cell(value)) == value


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_board_export_neutralises_formulas_and_keeps_numbers(web, setup_context):
    make_customer(name="=1+1", balance=Decimal("-5"), city="Leeds")
    make_customer(name="@SUM(A1)", balance=Decimal("0"), city="+44 Road")
    make_customer(name="-5", balance=Decimal("0.01"), city="Leeds")
    web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["balance", "city"])})

    rows = _rows(web.get("/customers/", {"export": "csv", "ordering": "balance"}))

    assert rows == [["name", "balance", "city"],
                    ["'=1+1", "-5.000000", "Leeds"],
                    ["'@SUM(A1)", "0.000000", "'+44 Road"],
                    ["-5", "0.010000", "Leeds"]]


def test_grouped_export_neutralises_the_group_labels(web, setup_context):
    make_customer(name="A", city='=HYPERLINK("http://x.example/","x")', channels=10)
    make_customer(name="B", city="York", channels=5)
    web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["channels"])})

    rows = _rows(web.get("/customers/", {"export": "csv", "group_by": "city"}))

    assert rows == [["City", "Count", "Channels (sum)", "Channels (average)"],
                    ["'=HYPERLINK(\"http://x.example/\",\"x\")", "1", "10", "10.00"],
                    ["York", "1", "5", "5.00"]]


DECK = ("44,=1+1,0.010000,0.000000,1,1,0,active\n"
        "441,-5,0.020000,0.000000,60,6,0,active\n"
        "447,@Mobile,0.045000,0.010000,30,6,2,blocked\n")
EXPORTED = ("44,'=1+1,0.010000,0.000000,1,1,0,active\n"
            "441,-5,0.020000,0.000000,60,6,0,active\n"
            "447,'@Mobile,0.045000,0.010000,30,6,2,blocked\n")


def _rates(revision) -> list[tuple]:
    return list(Rate.objects.filter(revision=revision).order_by("prefix").values_list(
        "prefix", "name", "rate", "connection_fee", "mcd", "pulse", "grace", "status"))


def test_rate_card_export_neutralises_names_in_the_api_and_the_panel(api, web, setup_context):
    card = make_card(name="Retail")
    load_rates(card, DECK)

    from_api = b"".join(api.get(reverse("api:ratecard-export", args=[card.pk])).streaming_content).decode()
    from_panel = b"".join(web.get(reverse("routing:ratecard_export", args=[card.pk])).streaming_content).decode()

    assert from_api == from_panel == HEADER + EXPORTED


def test_an_exported_deck_imports_back_as_it_was(api, setup_context):
    card = make_card(name="Retail")
    first = load_rates(card, DECK)
    exported = b"".join(api.get(reverse("api:ratecard-export", args=[card.pk])).streaming_content).decode()
    copy = make_card(name="Copy")

    response = api.generic("POST", reverse("api:ratecard-import-rates", args=[copy.pk]), exported.encode(),
                           content_type="text/csv")

    assert response.status_code == 200, response.json()
    copy.refresh_from_db()
    assert _rates(copy.active_revision) == _rates(first)
    assert [name for _, name, *_ in _rates(first)] == ["=1+1", "-5", "@Mobile"]
