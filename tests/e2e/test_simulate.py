"""Simulate Call in a real Chromium: the Simulate dialog on a customer's Latest Calls tab (a routed call, then one
from an unknown IP), both kept on the tab under SIM call ids, and the global Simulate page."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import Page, expect

from tests.factories import make_customer
from tests.routing.helpers import load_rates, make_card, make_provider
from tests.sipauth.factories import make_ip_auth
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, SimulatedCall
from trunkline.routing.services.routes import ingress_route_save

pytestmark = pytest.mark.e2e

IP = "203.0.113.10"
UNKNOWN_IP = "203.0.113.99"
UK_MOBILE = "447700900123"


def navigation(page: Page) -> AbstractContextManager:
    return page.expect_navigation(wait_until="load")


def rows(page: Page, testid: str) -> list[list[str]]:
    """A table's body rows as cell texts (without the empty-state row)."""
    return page.get_by_test_id(testid).first.evaluate("""table => Array.from(table.tBodies[0].rows)
        .filter(tr => !tr.querySelector("td.empty"))
        .map(tr => Array.from(tr.cells).map(cell => cell.innerText.trim()))""")


@pytest.fixture
def acme(db) -> Customer:
    customer = make_customer(name="Acme Voice", debit_limit=Decimal("1.00"))
    make_ip_auth(customer, ip=IP)
    provider_card = make_card(kind="provider", name="Carrier UK", provider=make_provider(name="Northwind Telecom"))
    load_rates(provider_card, "447,UK Mobile,0.0100,0,1,1,0,active\n")
    sell = make_card(name="Retail", egress_cards=[provider_card])
    load_rates(sell, "44,UK,0.0500,0,6,6,0,active\n")
    with change_context(source="test"):
        ingress_route_save(route=IngressRoute(customer=customer, rate_card=sell))
    return customer


def simulate_in_dialog(page: Page, *, ip: str | None = None) -> None:
    """Open the dialog from the tab, fill it in (the IP is prefilled) and submit; lands on the result page."""
    page.locator("#latest-calls").get_by_role("link", name="Simulate").click()
    dialog = page.get_by_role("dialog", name="Simulate Call")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Customer IP")).to_have_value(IP)
    dialog.get_by_label("Dialled number").fill(UK_MOBILE)
    dialog.get_by_label("CLI *", exact=True).fill("12025550143")
    if ip is not None:
        dialog.get_by_label("Customer IP").fill(ip)
    with navigation(page):
        dialog.get_by_role("button", name="Simulate").click()


def test_simulate_from_latest_calls_routed_then_rejected(operator_page: Page, acme: Customer) -> None:
    page = operator_page
    page.goto(f"/customers/{acme.pk}/latest-calls/")
    expect(page.locator(".card-tabs a.active")).to_have_text("Latest Calls")
    expect(page.get_by_test_id("latest-calls").locator("td.empty")).to_have_text(
        "No calls yet. Press Simulate to see how a call would be routed; each simulation is kept here.")

    # Cancel closes the dialog where it opened, without leaving the tab.
    page.locator("#latest-calls").get_by_role("link", name="Simulate").click()
    page.get_by_role("dialog").get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_be_hidden()

    simulate_in_dialog(page)
    routed = SimulatedCall.objects.get()
    assert page.url.endswith(f"/routing/simulations/{routed.pk}/")
    expect(page.get_by_test_id("sim-outcome").locator(".outcome")).to_have_text("Routed 200")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Simulation {routed.call_id}")
    assert rows(page, "sim-egress") == [["1", "Northwind Telecom", "198.51.100.7:5060;transport=udp", "Carrier UK",
                                         "447", "0.010000", "0.040000"]]
    expect(page.get_by_test_id("sim-trace").locator("li").last).to_have_text(
        "egress: lcr order: Northwind Telecom 0.010000/min")

    with navigation(page):
        page.locator(".crumbs").get_by_role("link", name="Latest Calls").click()
    simulate_in_dialog(page, ip=UNKNOWN_IP)
    rejected = SimulatedCall.objects.exclude(pk=routed.pk).get()
    expect(page.get_by_test_id("sim-outcome").locator(".outcome")).to_have_text("Rejected 403 IP Not Authorised")
    expect(page.get_by_test_id("sim-trace").locator("li.reject")).to_have_text(
        f"identify: REJECT source {UNKNOWN_IP} matches no IP-auth entry: 403 IP Not Authorised")
    expect(page.get_by_test_id("sim-customer")).to_contain_text("None identified (run from the card of Acme Voice)")

    with navigation(page):
        page.locator(".crumbs").get_by_role("link", name="Latest Calls").click()
    listed = rows(page, "latest-calls")
    assert [(row[0], row[2], row[4], row[5], row[6]) for row in listed] == [
        (rejected.call_id, UK_MOBILE, UNKNOWN_IP, "Rejected", "403 IP Not Authorised"),
        (routed.call_id, UK_MOBILE, IP, "Routed", "200 Routed")]
    assert all(row[0].startswith("SIM") and row[7] == "operator" for row in listed)


def test_dialog_shows_field_errors_and_keeps_what_was_typed(operator_page: Page, acme: Customer) -> None:
    page = operator_page
    page.goto(f"/customers/{acme.pk}/latest-calls/")
    page.locator("#latest-calls").get_by_role("link", name="Simulate").click()
    dialog = page.get_by_role("dialog", name="Simulate Call")
    dialog.get_by_label("Customer IP").fill("not-an-ip")
    with navigation(page):
        dialog.get_by_role("button", name="Simulate").click()
    dialog = page.get_by_role("dialog", name="Simulate Call")
    expect(dialog).to_be_visible()  # back open, as a modal
    expect(dialog.locator(".field.invalid .errorlist-block")).to_have_text([
        "Enter the dialled number.", "Enter the CLI.",
        "The customer IP must be an IPv4 or IPv6 address, such as 203.0.113.10."])
    expect(dialog.get_by_label("Customer IP")).to_have_value("not-an-ip")
    assert SimulatedCall.objects.count() == 0


def test_global_simulate_page(operator_page: Page, acme: Customer) -> None:
    page = operator_page
    page.goto("/customers/")
    with navigation(page):
        page.locator(".mainnav").get_by_role("link", name="Simulate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Simulate Call")
    expect(page.get_by_label("Customer IP")).to_have_value("")  # no customer preset
    page.get_by_label("Dialled number").fill(UK_MOBILE)
    page.get_by_label("CLI *", exact=True).fill("12025550143")
    page.get_by_label("Customer IP").fill(IP)
    with navigation(page):
        page.get_by_role("button", name="Simulate").click()
    expect(page.get_by_test_id("sim-outcome").locator(".outcome")).to_have_text("Routed 200")
    simulation = SimulatedCall.objects.get()
    with navigation(page):
        page.locator(".crumbs").get_by_role("link", name="Latest Calls").click()  # identified: Acme's tab
    assert page.url.endswith(f"/customers/{acme.pk}/latest-calls/")
    page.goto("/routing/simulate/")
    assert [row[:3] for row in rows(page, "latest-calls")] == [
        [simulation.call_id, simulation.created.strftime("%Y-%m-%d %H:%M:%S UTC"), "Acme Voice"]]
