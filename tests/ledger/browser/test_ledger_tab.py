"""The Ledger tab in Chromium: an operator credits and debits through the form (errors shown on the field, nothing
written), the Main tab's balance links there; a viewer sees the entries and no form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db(transaction=True)


def ledger_rows(page: Page) -> list[list[str]]:
    rows = page.get_by_test_id("ledger").locator("tbody tr")
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()][1:6] for row in rows.all()]


def test_an_operator_adjusts_the_balance_from_the_card(operator_page: Page, live_server) -> None:
    page = operator_page
    customer = make_customer(name="Acme Telecom", currency="EUR", balance=Decimal("-12.5"))
    page.goto(f"/customers/{customer.pk}/")
    expect(page.get_by_test_id("balance")).to_have_text("-12.50 EUR")
    page.get_by_test_id("balance-ledger").click()
    expect(page.locator(".card-tabs a.active")).to_have_text("Ledger")
    expect(page.get_by_test_id("ledger-balance")).to_have_text("-12.50 EUR")

    form = page.get_by_test_id("adjust-form")
    form.get_by_label("Amount").fill("0")
    form.get_by_label("Reason").fill("Nothing")
    form.get_by_role("button", name="Adjust balance").click()
    expect(page.locator(".field.invalid .errorlist-block")).to_have_text(
        "The amount cannot be 0: give a credit such as 25.50 or a debit such as -10.")
    assert LedgerEntry.objects.count() == 1

    form = page.get_by_test_id("adjust-form")
    form.get_by_label("Amount").fill("100.005")
    form.get_by_label("Reason").fill("Bank transfer TX-88412")
    form.get_by_role("button", name="Adjust balance").click()
    expect(page.locator(".messages")).to_contain_text("Credited 100.005 EUR: the balance is now 87.505 EUR.")
    expect(page.get_by_test_id("ledger-balance")).to_have_text("87.505 EUR")

    form = page.get_by_test_id("adjust-form")
    form.get_by_label("Amount").fill("-7.5")
    form.get_by_label("Reason").fill("Late fee")
    form.get_by_role("button", name="Adjust balance").click()
    expect(page.locator(".messages")).to_contain_text("Debited 7.50 EUR: the balance is now 80.005 EUR.")
    assert ledger_rows(page) == [
        ["Adjustment", "-7.500", "80.005", "—", "Late fee"],
        ["Adjustment", "+100.005", "87.505", "—", "Bank transfer TX-88412"],
        ["Opening balance", "-12.500", "-12.500", "—", "—"],
    ]
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("80.005")
    assert [change.postchange_data["balance"] for change in
            ObjectChange.objects.filter(object_id=customer.pk, action="update").order_by("id")] == [
        "87.505000", "80.005000"]


def test_a_viewer_sees_the_ledger_without_the_form(viewer_page: Page, live_server) -> None:
    page = viewer_page
    customer = make_customer(balance=Decimal("5"))
    page.goto(f"/customers/{customer.pk}/ledger/")
    expect(page.get_by_test_id("ledger-balance")).to_have_text("5.00 USD")
    assert ledger_rows(page) == [["Opening balance", "+5.00", "5.00", "—", "—"]]
    expect(page.get_by_test_id("adjust-form")).to_have_count(0)
