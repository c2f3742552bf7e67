"""The Customers board: columns per operator, sorting, grouping in the database, export, paging, bulk edit."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_customer
from trunkline.core.models import UserPreference
from trunkline.core.tables import PerCurrency
from trunkline.customers.models import Customer
from trunkline.customers.tables import CustomerTable

BOARD = "/customers/"


def header_columns(html: str) -> list[str]:
    """The data-column attributes of the board's header, in order."""
    names = []
    for chunk in html.split('data-column="')[1:]:
        names.append(chunk.split('"', 1)[0])
    return names


@pytest.fixture
def customers(db) -> list[Customer]:
    return [
        make_customer(name="Alpha", status="active", currency="USD", debit_limit=Decimal("100"), channels=10),
        make_customer(name="Bravo", status="active", currency="EUR", debit_limit=Decimal("300"), channels=30),
        make_customer(name="Charlie", status="inactive", currency="USD", debit_limit=Decimal("50.5"), channels=0),
        make_customer(name="Delta", status="penalty", currency="GBP", debit_limit=Decimal("0"), channels=5),
    ]


def test_default_columns(web, customers) -> None:
    html = web.get(BOARD).content.decode()
    assert header_columns(html) == ["name", *CustomerTable.default_columns]


def test_columns_are_saved_per_operator_in_their_order(web, operator_user, admin_user, customers) -> None:
    response = web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["cps", "status", "city"])})
    assert response.status_code == 200
    assert header_columns(web.get(BOARD).content.decode()) == ["name", "cps", "status", "city"]
    assert UserPreference.for_user(operator_user).get("tables.CustomerTable.columns") == ["cps", "status", "city"]
    # Another operator keeps the defaults.
    other = web.__class__()
    other.force_login(admin_user)
    assert header_columns(other.get(BOARD).content.decode()) == ["name", *CustomerTable.default_columns]
    # Reset brings the defaults back.
    web.post("/preferences/tables/CustomerTable/", {"reset": "1"})
    assert header_columns(web.get(BOARD).content.decode()) == ["name", *CustomerTable.default_columns]


def test_unknown_column_or_table_is_refused(web, operator_user) -> None:
    response = web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["status", "password"])})
    assert response.status_code == 400
    assert b"Unknown columns: password." in response.content
    assert web.post("/preferences/tables/NoSuchTable/", {"columns": "[]"}).status_code == 400
    assert UserPreference.for_user(operator_user).get("tables.CustomerTable.columns") is None


def test_sort_by_any_column_both_ways(web, customers) -> None:
    def names(query: str) -> list[str]:
        return [obj.name for obj, _ in web.get(BOARD + query).context["rows"]]

    assert names("?ordering=-debit_limit") == ["Bravo", "Alpha", "Charlie", "Delta"]
    assert names("?ordering=debit_limit") == ["Delta", "Charlie", "Alpha", "Bravo"]
    assert names("?ordering=-name") == ["Delta", "Charlie", "Bravo", "Alpha"]
    assert names("") == ["Alpha", "Bravo", "Charlie", "Delta"]


def test_status_drop_down_and_search(web, customers) -> None:
    html = web.get(BOARD + "?status=active").content.decode()
    assert "Alpha" in html and "Bravo" in html and "Charlie" not in html and "Delta" not in html
    html = web.get(BOARD + "?q=char").content.decode()
    assert "Charlie" in html and "Alpha" not in html


def test_group_by_status_is_computed_in_the_database(web, customers) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = web.get(BOARD + "?group_by=status&currency=USD")
    assert response.status_code == 200
    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"].upper()]
    assert len(grouped) == 1
    groups = {g["value"]: g for g in response.context["groups"]}
    assert {value: g["count"] for value, g in groups.items()} == {"active": 1, "inactive": 1}
    numeric = [c.name for c in response.context["numeric_columns"]]
    debit = numeric.index("debit_limit")
    assert groups["active"]["aggregates"][debit][1:] == (PerCurrency((("USD", Decimal("100.00")),)),
                                                         PerCurrency((("USD", Decimal("100.00")),)))
    assert groups["inactive"]["aggregates"][debit][1:] == (PerCurrency((("USD", Decimal("50.50")),)),
                                                           PerCurrency((("USD", Decimal("50.50")),)))
    totals = response.context["grouped"].totals
    assert totals[debit][1:] == (PerCurrency((("USD", Decimal("150.50")),)),
                                 PerCurrency((("USD", Decimal("75.25")),)))
    assert response.context["total"] == 2


def test_group_sums_never_add_up_different_currencies(web, customers) -> None:
    """Money is summed and averaged per currency, in each group and in the totals; other numbers as they are."""
    response = web.get(BOARD + "?group_by=status")
    groups = {g["value"]: g for g in response.context["groups"]}
    assert {value: g["count"] for value, g in groups.items()} == {"active": 2, "inactive": 1, "penalty": 1}
    numeric = [c.name for c in response.context["numeric_columns"]]
    assert numeric == ["balance", "debit_limit", "channels", "cps"]
    debit, channels = numeric.index("debit_limit"), numeric.index("channels")

    def cells(aggregates: list, position: int) -> tuple[str, str]:
        return str(aggregates[position][1]), str(aggregates[position][2])

    assert cells(groups["active"]["aggregates"], debit) == ("EUR 300.00 · USD 100.00", "EUR 300.00 · USD 100.00")
    assert cells(groups["inactive"]["aggregates"], debit) == ("USD 50.50", "USD 50.50")
    assert cells(groups["penalty"]["aggregates"], debit) == ("GBP 0.00", "GBP 0.00")
    assert groups["active"]["aggregates"][channels][1:] == (40, Decimal("20.00"))
    totals = response.context["grouped"].totals
    assert cells(totals, debit) == ("EUR 300.00 · GBP 0.00 · USD 150.50", "EUR 300.00 · GBP 0.00 · USD 75.25")
    assert totals[channels][1:] == (45, Decimal("11.25"))
    html = response.content.decode()
    assert ('<th class="num"><span class="per-currency">EUR 300.00</span><span class="per-currency">GBP 0.00</span>'
            '<span class="per-currency">USD 150.50</span></th>') in html


def test_grouped_by_currency_the_totals_stay_per_currency(web, customers) -> None:
    make_customer(name="Echo", status="active", currency="USD", debit_limit=Decimal("1234.5"))
    response = web.get(BOARD + "?group_by=currency")
    numeric = [c.name for c in response.context["numeric_columns"]]
    debit = numeric.index("debit_limit")
    groups = {g["value"]: str(g["aggregates"][debit][1]) for g in response.context["groups"]}
    assert groups == {"EUR": "EUR 300.00", "GBP": "GBP 0.00", "USD": "USD 1385.00"}
    totals = response.context["grouped"].totals[debit]
    assert (str(totals[1]), str(totals[2])) == ("EUR 300.00 · GBP 0.00 · USD 1385.00",
                                                "EUR 300.00 · GBP 0.00 · USD 461.67")
    # On the page, one currency a line, with thousands separators.
    assert ('<span class="per-currency">GBP 0.00</span><span class="per-currency">USD 1,385.00</span></th>'
            in response.content.decode())


def test_export_of_groups_writes_money_per_currency(web, customers) -> None:
    web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["debit_limit"])})
    response = web.get(BOARD + "?group_by=status&export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["Status", "Count", "Debit limit (sum)", "Debit limit (average)"],
                    ["Active", "2", "EUR 300.00 · USD 100.00", "EUR 300.00 · USD 100.00"],
                    ["Inactive", "1", "USD 50.50", "USD 50.50"],
                    ["Penalty", "1", "GBP 0.00", "GBP 0.00"]]


def test_tax_groups_read_as_percentages_as_the_column_does(web, customers) -> None:
    make_customer(name="Echo", status="active", currency="EUR", tax_rate=Decimal("7.625"))
    response = web.get(BOARD + "?group_by=tax_rate")
    assert {g["label"] for g in response.context["groups"]} == {"0.00 %", "7.625 %"}


def test_group_by_ignores_unknown_columns(web, customers) -> None:
    response = web.get(BOARD + "?group_by=notes")
    assert response.status_code == 200
    assert "groups" not in response.context


def test_export_is_the_current_view(web, customers) -> None:
    web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["currency", "debit_limit"])})
    response = web.get(BOARD + "?status=active&ordering=-debit_limit&export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["name", "currency", "debit_limit"], ["Bravo", "EUR", "300.000000"],
                    ["Alpha", "USD", "100.000000"]]


def test_export_of_groups(web, customers) -> None:
    web.post("/preferences/tables/CustomerTable/", {"columns": json.dumps(["channels"])})
    response = web.get(BOARD + "?group_by=currency&export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Currency", "Count", "Channels (sum)", "Channels (average)"]
    assert rows[1:] == [["EUR", "1", "30", "30.00"], ["GBP", "1", "5", "5.00"], ["USD", "2", "10", "5.00"]]


def test_pagination(web, db) -> None:
    for number in range(60):
        make_customer(name=f"Paged {number:02d}")
    first = web.get(BOARD + "?per_page=25")
    assert first.context["page"].paginator.num_pages == 3
    assert len(first.context["rows"]) == 25
    last = web.get(BOARD + "?per_page=25&page=3")
    assert [obj.name for obj, _ in last.context["rows"]] == [f"Paged {n}" for n in range(50, 60)]


def test_viewer_sees_no_write_controls(client, viewer_user, customers) -> None:
    client.force_login(viewer_user)
    html = client.get(BOARD).content.decode()
    assert 'aria-label="Add customer"' not in html
    assert "Bulk edit" not in html
    assert 'name="pk"' not in html
    assert client.get("/customers/add/").status_code == 403
    assert client.post("/customers/delete/", {"pk": [customers[0].pk], "_confirm": "1"}).status_code == 403
    assert Customer.objects.count() == 4


def test_bulk_edit_is_all_or_nothing(web, customers) -> None:
    # A customer whose stored TOML is broken (written around validation) cannot pass full_clean().
    Customer.objects.filter(pk=customers[1].pk).update(vars="broken = ")
    response = web.post("/customers/edit/", {"pk": [customers[0].pk, customers[1].pk], "_apply": "1",
                                             "status": "penalty", "channels": "77"})
    assert response.status_code == 200
    assert "Nothing was changed. Bravo: vars: Invalid TOML" in response.content.decode()
    assert Customer.objects.get(pk=customers[0].pk).status == "active"
    assert Customer.objects.get(pk=customers[0].pk).channels == 10


def test_bulk_edit_tags(web, customers) -> None:
    with_tags = make_customer(name="Echo", tags=["vip", "retail"])
    web.post("/customers/edit/", {"pk": [with_tags.pk], "_apply": "1", "add_tags": "wholesale, vip",
                                  "remove_tags": "RETAIL"})
    with_tags.refresh_from_db()
    assert with_tags.tags == ["vip", "wholesale"]


def test_edit_form_keeps_the_currency(web, customers) -> None:
    customer = customers[0]
    response = web.post(f"/customers/{customer.pk}/edit/", {"name": "Alpha", "status": "active", "currency": "EUR",
                                                           "debit_limit": "1", "minimum_payment": "0",
                                                           "tax_rate": "0", "channels": "0", "cps": "0"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.currency == "USD"
    assert customer.debit_limit == Decimal("1")


def test_add_form_refuses_scientific_notation(web, db) -> None:
    response = web.post("/customers/add/", {"name": "Sci", "status": "active", "currency": "USD",
                                            "debit_limit": "1E+5", "minimum_payment": "0", "tax_rate": "0",
                                            "channels": "0", "cps": "0"})
    assert response.status_code == 200
    assert "Scientific notation such as 1E+5 is not accepted; write the number in full." in response.content.decode()
    assert not Customer.objects.exists()


def test_add_form_reports_toml_line(web, db) -> None:
    response = web.post("/customers/add/", {"name": "Toml", "status": "active", "currency": "USD",
                                            "debit_limit": "0", "minimum_payment": "0", "tax_rate": "0",
                                            "channels": "0", "cps": "0", "vars": "[cli]\npersist = yes\n"})
    assert response.status_code == 200
    assert "(at line 2, column 11)" in response.content.decode()
    assert not Customer.objects.exists()
