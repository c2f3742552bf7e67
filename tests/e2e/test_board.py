"""The Customers board in a real Chromium: log in, add, search, filter, columns, groups, bulk actions, import, roles.

Each test drives the UI the way an operator does and checks the exact outcome on the page and, where the test
changed something, in the database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core.models import User, UserPreference
from trunkline.customers.models import Customer

pytestmark = pytest.mark.e2e

DEFAULT_COLUMNS = ["name", "status", "currency", "balance", "debit_limit", "live_channels", "asr_24h", "acd_24h",
                   "last_call", "channels", "cps", "country", "tags"]


# --- helpers -------------------------------------------------------------------------------------------------------

def navigation(page: Page) -> AbstractContextManager:
    """Wrap the action that leaves the page (form submit, link, reload by script); waits for the new page's load."""
    return page.expect_navigation(wait_until="load")


def visible_columns(page: Page) -> list[str]:
    return page.locator("[data-testid=objects] thead th[data-column]").evaluate_all(
        "cells => cells.map(cell => cell.dataset.column)")


def board_rows(page: Page) -> list[dict[str, str]]:
    """The board's rows as {column name: cell text}, by the data-column of each header cell."""
    return page.locator("[data-testid=objects]").evaluate("""table => {
        const names = Array.from(table.querySelectorAll("thead th")).map(th => th.dataset.column || null);
        return Array.from(table.querySelectorAll("tbody tr"))
            .filter(tr => !tr.querySelector("td.empty"))
            .map(tr => Object.fromEntries(Array.from(tr.children)
                .map((td, i) => [names[i], td.innerText.trim()])
                .filter(([name]) => name)));
    }""")


def board_names(page: Page) -> list[str]:
    return [row["name"] for row in board_rows(page)]


def table_texts(page: Page, selector: str, section: str = "tbody") -> list[list[str]]:
    return page.locator(selector).evaluate(
        """(table, section) => Array.from(table.querySelectorAll(section + " tr"))
            .map(tr => Array.from(tr.children).map(cell => cell.innerText.trim()))""", section)


def messages(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".messages .message").all_inner_texts()]


def tick(page: Page, *names: str) -> None:
    for name in names:
        page.get_by_role("checkbox", name=f"Select {name}", exact=True).check()


def open_popout(page: Page, name: str) -> Locator:
    page.locator(f"[data-popout={name.lower()}-popout]").click()
    popout = page.get_by_role("complementary", name=name)
    expect(popout).to_be_visible()
    return popout


# --- 1. log in ------------------------------------------------------------------------------------------------------

def test_login_refuses_a_wrong_password_and_lands_on_the_board(page: Page, operator_user: User,
                                                               live_server) -> None:
    page.goto("/customers/")
    page.wait_for_url("**/login/?next=/customers/")

    page.locator("#id_username").fill("operator")
    page.locator("#id_password").fill("not-the-password")
    with navigation(page):
        page.get_by_role("button", name="Log in").click()
    assert page.url == f"{live_server.url}/login/?next=/customers/"
    expect(page.locator(".errorlist-block")).to_have_text(
        "Please enter a correct username and password. Note that both fields may be case-sensitive.")
    expect(page.locator("#id_username")).to_have_value("operator")
    expect(page.locator(".usermenu")).to_have_count(0)

    page.locator("#id_password").fill(PASSWORD)
    with navigation(page):
        page.get_by_role("button", name="Log in").click()
    assert page.url == f"{live_server.url}/customers/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Customers 0")
    expect(page.locator(".usermenu .who")).to_have_text("operator Operator")
    expect(page.locator(".mainnav a.active")).to_have_text("Customers")


# --- 2. add a customer ----------------------------------------------------------------------------------------------

def test_add_customer_through_the_form(operator_page: Page, operator_user: User) -> None:
    page = operator_page
    page.goto("/customers/")
    with navigation(page):
        page.get_by_role("link", name="Add customer").click()
    assert page.url.endswith("/customers/add/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New customer")

    # Basic tab (open first).
    expect(page.get_by_role("tab", name="Basic")).to_have_attribute("aria-selected", "true")
    page.locator("#id_name").fill("Zephyr Voice")
    page.locator("#id_currency").select_option("EUR")
    page.locator("#id_status").select_option("pending_approval")
    page.locator("#id_debit_limit").fill("1500.50")
    # Config tab: its fields are hidden until the tab is chosen.
    expect(page.locator("#id_tags")).to_be_hidden()
    page.get_by_role("tab", name="Config").click()
    expect(page.get_by_role("tab", name="Config")).to_have_attribute("aria-selected", "true")
    page.locator("#id_tags").fill(" vip, wholesale,vip ")
    # Verification tab.
    page.get_by_role("tab", name="Verification").click()
    page.locator("#id_email_verification").check()

    with navigation(page):
        page.get_by_role("button", name="Save").click()

    customer = Customer.objects.get(name="Zephyr Voice")
    assert page.url.endswith(f"/customers/{customer.pk}/")
    assert messages(page) == ["Created customer Zephyr Voice."]
    expect(page.get_by_role("heading", level=1)).to_have_text("Zephyr Voice")
    expect(page.locator(".stat", has_text="Status").locator(".value")).to_have_text("Pending Approval")
    expect(page.locator(".stat", has_text="Debit limit").locator(".value")).to_have_text("1,500.50 EUR")
    expect(page.locator("dl.details .tag")).to_have_text(["vip", "wholesale"])
    expect(page.get_by_role("link", name="Edit Customer")).to_be_visible()

    assert customer.currency == "EUR"
    assert customer.status == "pending_approval"
    assert customer.debit_limit == Decimal("1500.50")
    assert customer.minimum_payment == Decimal("0")
    assert customer.tags == ["vip", "wholesale"]
    assert customer.email_verification is True
    assert customer.mobile_verification is False
    assert customer.portal_access is True  # ticked by default on a new customer
    change = ObjectChange.objects.get(object_id=customer.pk, object_type__model="customer")
    assert (change.action, change.user_name, change.user, change.source) == ("create", "operator", operator_user,
                                                                             "web")
    assert change.postchange_data["debit_limit"] == "1500.500000"
    with navigation(page):
        page.get_by_role("link", name="Audit Log", exact=True).click()
    expect(page.get_by_test_id("audit").locator("> tbody > tr:not(.detail-row)")).to_have_count(1)
    with navigation(page):
        page.get_by_role("link", name="Main", exact=True).click()

    # The edit form shows what was saved; saving it unchanged changes nothing and logs nothing.
    with navigation(page):
        page.get_by_role("link", name="Edit Customer").click()
    assert page.url.endswith(f"/customers/{customer.pk}/edit/")
    expect(page.locator("#id_debit_limit")).to_have_value("1500.50")
    expect(page.locator("#id_currency")).to_be_disabled()
    with navigation(page):
        page.get_by_role("button", name="Save").click()
    assert messages(page) == ["Saved customer Zephyr Voice."]
    assert ObjectChange.objects.filter(object_id=customer.pk, object_type__model="customer").count() == 1


# --- 3. search ------------------------------------------------------------------------------------------------------

def test_search_with_enter_and_with_the_icon_button(operator_page: Page) -> None:
    for name in ("Acme Telecom", "Acme Voice", "Blue Ocean Networks", "Northwind Carrier"):
        make_customer(name=name)
    page = operator_page
    page.goto("/customers/")
    assert board_names(page) == ["Acme Telecom", "Acme Voice", "Blue Ocean Networks", "Northwind Carrier"]

    search = page.get_by_role("searchbox", name="Search")
    search.fill("acme")
    with navigation(page):
        search.press("Enter")
    assert "q=acme" in page.url
    assert board_names(page) == ["Acme Telecom", "Acme Voice"]
    expect(page.get_by_test_id("total")).to_have_text("2")
    expect(page.locator(".chips .chip")).to_have_text(["Search: “acme” ✕"])
    expect(search).to_have_value("acme")

    search.fill("OCEAN")
    with navigation(page):
        page.get_by_role("button", name="Search").click()
    assert board_names(page) == ["Blue Ocean Networks"]

    search.fill("no such carrier")
    with navigation(page):
        search.press("Enter")
    assert board_names(page) == []
    expect(page.locator("[data-testid=objects] td.empty")).to_have_text("Nothing matches the search and filters.")

    # The chip removes the search again.
    with navigation(page):
        page.locator(".chips .chip").click()
    assert len(board_names(page)) == 4


# --- 4. filters -----------------------------------------------------------------------------------------------------

def test_status_drop_down_and_filters_popout(operator_page: Page) -> None:
    make_customer(name="Alpha Carrier", status="active", channels=30, country="GB")
    make_customer(name="Bravo Voice", status="penalty", channels=30, country="DE")
    make_customer(name="Charlie Telecom", status="active", channels=240, country="DE")
    make_customer(name="Delta Networks", status="penalty", channels=500, country="GB")
    make_customer(name="Echo Connect", status="inactive", channels=120, country="DE")
    page = operator_page
    page.goto("/customers/")

    with navigation(page):
        page.locator("select[name=status]").select_option("penalty")
    assert "status=penalty" in page.url
    assert board_names(page) == ["Bravo Voice", "Delta Networks"]
    expect(page.locator("select[name=status]")).to_have_value("penalty")

    # The Filters popout adds a filter on top of the status.
    popout = open_popout(page, "Filters")
    popout.locator("#id_channels__gte").fill("100")
    with navigation(page):
        popout.get_by_role("button", name="Apply filters").click()
    assert board_names(page) == ["Delta Networks"]
    expect(page.locator("[data-popout=filters-popout] .pill")).to_have_text("2")

    # Back to all statuses: the channels filter stays.
    with navigation(page):
        page.locator("select[name=status]").select_option("")
    assert board_names(page) == ["Charlie Telecom", "Delta Networks", "Echo Connect"]
    assert all(int(row["channels"]) >= 100 for row in board_rows(page))

    # A country filter from the popout, combined with the channels one.
    popout = open_popout(page, "Filters")
    expect(popout.locator("#id_channels__gte")).to_have_value("100")
    popout.locator("#id_country").select_option("DE")
    with navigation(page):
        popout.get_by_role("button", name="Apply filters").click()
    assert board_names(page) == ["Charlie Telecom", "Echo Connect"]
    assert {row["country"] for row in board_rows(page)} == {"DE"}


# --- 5. columns -----------------------------------------------------------------------------------------------------

def test_columns_are_hidden_and_reordered_for_this_operator_only(
        operator_page: Page, operator_user: User, admin_user: User,
        new_context: Callable[[], BrowserContext]) -> None:
    make_customer(name="Alpha Carrier", country="GB", channels=30, cps=5)
    page = operator_page
    page.goto("/customers/")
    assert visible_columns(page) == DEFAULT_COLUMNS

    popout = open_popout(page, "Columns")
    popout.locator("input[type=checkbox][value=country]").uncheck()
    popout.get_by_role("button", name="Move Flow speed (CPS) up").click()
    with navigation(page):
        popout.get_by_role("button", name="Save columns").click()

    expected = ["name", "status", "currency", "balance", "debit_limit", "live_channels", "asr_24h", "acd_24h",
                "last_call", "cps", "channels", "tags"]
    assert visible_columns(page) == expected
    assert board_rows(page) == [{"name": "Alpha Carrier", "status": "Active", "currency": "USD",
                                 "balance": "0.00 USD", "debit_limit": "0.00 USD", "live_channels": "0 / 30",
                                 "asr_24h": "—", "acd_24h": "—", "last_call": "—", "cps": "5", "channels": "30",
                                 "tags": "—"}]
    stored = UserPreference.objects.get(user=operator_user).data
    assert stored == {"tables": {"CustomerTable": {"columns": expected[1:]}}}

    # A reload keeps it, and so does a new session that logs in again.
    page.reload()
    assert visible_columns(page) == expected
    expect(page.locator("#columns-popout input[value=country]")).not_to_be_checked()
    again = log_in(new_context().new_page(), operator_user)
    assert visible_columns(again) == expected

    # Another operator still has the default columns.
    other = log_in(new_context().new_page(), admin_user)
    assert visible_columns(other) == DEFAULT_COLUMNS

    # Reset brings the defaults back.
    popout = open_popout(page, "Columns")
    with navigation(page):
        popout.get_by_role("button", name="Reset").click()
    assert visible_columns(page) == DEFAULT_COLUMNS


# --- 6. row groups --------------------------------------------------------------------------------------------------

def test_group_by_status_counts_each_status(operator_page: Page) -> None:
    make_customer(name="Active One", status="active", debit_limit=Decimal("1000.50"))
    make_customer(name="Active Two", status="active", debit_limit=Decimal("2000"))
    make_customer(name="Active Three", status="active")
    make_customer(name="Penalty One", status="penalty", debit_limit=Decimal("250"))
    make_customer(name="Penalty Two", status="penalty")
    make_customer(name="Inactive One", status="inactive")
    page = operator_page
    page.goto("/customers/")

    popout = open_popout(page, "Columns")
    popout.get_by_label("Group rows by").select_option("status")
    with navigation(page):
        popout.get_by_role("button", name="Apply grouping").click()
    assert "group_by=status" in page.url

    groups = page.get_by_test_id("groups")
    expect(groups).to_be_visible()
    expect(page.get_by_test_id("objects")).to_have_count(0)
    header = table_texts(page, "[data-testid=groups]", "thead")[0]
    assert header[:2] == ["Status", "Count"]
    debit_sum = header.index("Debit limit (sum)")
    rows = table_texts(page, "[data-testid=groups]")
    assert [(row[0], row[1]) for row in rows] == [("Active", "3"), ("Inactive", "1"), ("Penalty", "2")]
    assert [row[debit_sum] for row in rows] == ["USD 3,000.50", "USD 0.00", "USD 250.00"]
    footer = table_texts(page, "[data-testid=groups]", "tfoot")[0]
    assert footer[:2] == ["Total", "6"]
    assert footer[debit_sum] == "USD 3,250.50"
    expect(page.locator(".chips .chip-group")).to_have_text("Grouped by Status ✕")

    # A group's label opens the board filtered to that group.
    with navigation(page):
        groups.get_by_role("link", name="Penalty").click()
    assert board_names(page) == ["Penalty One", "Penalty Two"]


# --- 7. bulk edit ---------------------------------------------------------------------------------------------------

def test_bulk_edit_changes_only_the_ticked_customers(operator_page: Page) -> None:
    alpha = make_customer(name="Alpha Carrier", status="active", channels=10, cps=5)
    bravo = make_customer(name="Bravo Voice", status="active", channels=20, cps=5)
    charlie = make_customer(name="Charlie Telecom", status="active", channels=30, cps=5)
    page = operator_page
    page.goto("/customers/")

    bulk_edit = page.get_by_role("button", name="Bulk edit")
    expect(bulk_edit).to_be_disabled()
    tick(page, "Alpha Carrier", "Charlie Telecom")
    expect(bulk_edit).to_be_enabled()
    with navigation(page):
        bulk_edit.click()
    assert page.url.endswith("/customers/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit 2 customers")
    expect(page.locator(".card", has_text="Selected").locator("li")).to_have_text(["Alpha Carrier",
                                                                                    "Charlie Telecom"])

    page.locator("#id_status").select_option("inactive")
    page.locator("#id_channels").fill("250")
    with navigation(page):
        page.get_by_role("button", name="Apply to 2 customers").click()
    assert page.url.endswith("/customers/")
    assert messages(page) == ["Updated 2 customers."]
    statuses = {row["name"]: (row["status"], row["channels"]) for row in board_rows(page)}
    assert statuses == {"Alpha Carrier": ("Inactive", "250"), "Bravo Voice": ("Active", "20"),
                        "Charlie Telecom": ("Inactive", "250")}

    for customer in (alpha, bravo, charlie):
        customer.refresh_from_db()
    assert (alpha.status, alpha.channels, alpha.cps) == ("inactive", 250, 5)
    assert (charlie.status, charlie.channels, charlie.cps) == ("inactive", 250, 5)
    assert (bravo.status, bravo.channels, bravo.cps) == ("active", 20, 5)
    updates = ObjectChange.objects.filter(action="update", user_name="operator")
    assert sorted(updates.values_list("object_repr", flat=True)) == ["Alpha Carrier", "Charlie Telecom"]
    assert {tuple(change.changed_fields) for change in updates} == {("status", "channels")}


# --- 8. bulk delete -------------------------------------------------------------------------------------------------

def test_bulk_delete_asks_for_confirmation(operator_page: Page) -> None:
    for name in ("Alpha Carrier", "Bravo Voice", "Charlie Telecom"):
        make_customer(name=name)
    page = operator_page
    page.goto("/customers/")

    delete = page.get_by_role("button", name="Delete selected")
    expect(delete).to_be_disabled()
    tick(page, "Alpha Carrier", "Charlie Telecom")

    # Cancel on the confirmation page deletes nothing.
    with navigation(page):
        delete.click()
    assert page.url.endswith("/customers/delete/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete 2 customers?")
    expect(page.locator("ul.plain li")).to_have_text(["Alpha Carrier", "Charlie Telecom"])
    assert Customer.objects.count() == 3
    with navigation(page):
        page.get_by_role("link", name="Cancel").click()
    assert page.url.endswith("/customers/")
    assert board_names(page) == ["Alpha Carrier", "Bravo Voice", "Charlie Telecom"]

    tick(page, "Alpha Carrier", "Charlie Telecom")
    with navigation(page):
        page.get_by_role("button", name="Delete selected").click()
    with navigation(page):
        page.get_by_role("button", name="Delete 2 customers").click()
    assert page.url.endswith("/customers/")
    assert messages(page) == ["Deleted 2 customers."]
    assert board_names(page) == ["Bravo Voice"]
    assert list(Customer.objects.values_list("name", flat=True)) == ["Bravo Voice"]
    deletes = ObjectChange.objects.filter(action="delete", user_name="operator")
    assert sorted(deletes.values_list("object_repr", flat=True)) == ["Alpha Carrier", "Charlie Telecom"]


# --- 9. bulk upload -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("bad_row", "field", "problem"), [
    ("Delta Telecom,EUR,active,1E+5",
     "debit_limit", "Scientific notation such as 1E+5 is not accepted; write the number in full."),
    ("Delta Telecom,XYZ,active,100",
     "currency", "'XYZ' is not an ISO 4217 currency code (such as USD, EUR, GBP)."),
], ids=["scientific-notation", "unknown-currency"])
def test_bulk_upload_with_a_bad_row_writes_nothing(operator_page: Page, bad_row: str, field: str,
                                                   problem: str) -> None:
    make_customer(name="Existing Carrier")
    page = operator_page
    page.goto("/customers/")
    with navigation(page):
        page.get_by_role("link", name="Bulk upload").click()
    assert page.url.endswith("/customers/import/")

    csv_text = "\n".join([
        "name,currency,status,debit_limit",
        "Gamma Voice,USD,active,100",
        bad_row,
        "Epsilon Networks,GBP,pending_approval,250.75",
    ])
    page.locator("#id_csv").fill(csv_text)
    with navigation(page):
        page.get_by_role("button", name="Preview").click()

    errors = page.get_by_test_id("import-errors")
    expect(errors).to_be_visible()
    assert table_texts(page, "[data-testid=import-errors]", "thead") == [["Row", "Field", "Problem"]]
    assert table_texts(page, "[data-testid=import-errors]") == [["Row 3", field, problem]]
    expect(page.locator("h2.bad")).to_have_text("1 row with errors; nothing was imported.")
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    expect(page.locator("#id_csv")).to_have_value(csv_text)  # kept, to be fixed and sent again
    assert list(Customer.objects.values_list("name", flat=True)) == ["Existing Carrier"]


def test_bulk_upload_previews_then_imports(operator_page: Page) -> None:
    make_customer(name="Existing Carrier")
    page = operator_page
    page.goto("/customers/import/")
    csv_bytes = "\n".join([
        "name,currency,status,debit_limit,tags",
        "Gamma Voice,USD,active,100,vip",
        "Delta Telecom,EUR,penalty,0.5,",
        'Epsilon Networks,GBP,pending_approval,250.75,"wholesale, trial"',
    ]).encode()
    page.locator("#id_file").set_input_files(files=[{"name": "customers.csv", "mimeType": "text/csv",
                                                     "buffer": csv_bytes}])
    with navigation(page):
        page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Preview: Ready to import 3 rows: 3 new, 0 updated.")).to_be_visible()
    preview = table_texts(page, "[data-testid=import-preview]")
    assert [row[:4] for row in preview] == [["2", "create", "Gamma Voice", "USD"],
                                            ["3", "create", "Delta Telecom", "EUR"],
                                            ["4", "create", "Epsilon Networks", "GBP"]]
    assert Customer.objects.count() == 1  # the preview is a dry run

    with navigation(page):
        page.get_by_role("button", name="Import 3 rows").click()
    assert page.url.endswith("/customers/")
    assert messages(page) == ["Imported 3 rows: 3 new, 0 updated."]
    assert board_names(page) == ["Delta Telecom", "Epsilon Networks", "Existing Carrier", "Gamma Voice"]

    imported = {c.name: c for c in Customer.objects.exclude(name="Existing Carrier")}
    assert {name: (c.currency, c.status, c.debit_limit, c.tags) for name, c in imported.items()} == {
        "Gamma Voice": ("USD", "active", Decimal("100"), ["vip"]),
        "Delta Telecom": ("EUR", "penalty", Decimal("0.5"), []),
        "Epsilon Networks": ("GBP", "pending_approval", Decimal("250.75"), ["wholesale", "trial"]),
    }
    creates = ObjectChange.objects.filter(action="create", user_name="operator")
    assert sorted(creates.values_list("object_repr", flat=True)) == sorted(imported)


# --- 10. roles ------------------------------------------------------------------------------------------------------

def test_viewer_sees_no_write_controls_and_is_refused_the_add_page(viewer_page: Page) -> None:
    customer = make_customer(name="Alpha Carrier")
    page = viewer_page
    page.goto("/customers/")
    assert board_names(page) == ["Alpha Carrier"]
    expect(page.locator(".usermenu .role")).to_have_text("Viewer")
    for control in (page.get_by_role("link", name="Add customer"), page.get_by_role("link", name="Bulk upload"),
                    page.get_by_role("button", name="Bulk edit"), page.get_by_role("button", name="Delete selected")):
        expect(control).to_have_count(0)
    # Reading stays possible.
    expect(page.get_by_role("button", name="Columns")).to_be_visible()
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()

    with navigation(page):
        page.get_by_role("link", name="Alpha Carrier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha Carrier")
    expect(page.get_by_role("link", name="Edit Customer")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)

    for url in ("/customers/add/", f"/customers/{customer.pk}/edit/", f"/customers/{customer.pk}/delete/",
                "/customers/import/"):
        response = page.goto(url)
        assert response is not None
        assert response.status == 403, url
    assert Customer.objects.count() == 1
