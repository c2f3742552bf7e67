"""Dialogs in a real Chromium: the page lists the live calls and refreshes by itself when a call comes up (no
reload), End Calls on a ticked row sends Kamailio's JSON-RPC dlg.end_dlg to a real HTTP server standing in for it,
a viewer gets the list without End Calls, and Latest Calls opens a call's attempts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.cdrs.conftest import KamailioRpc
from tests.factories import make_customer
from tests.routing.helpers import make_provider
from trunkline.cdrs.models import CallRecord
from trunkline.customers.models import Customer
from trunkline.routing.models import Provider

pytestmark = pytest.mark.e2e


def navigation(page: Page) -> AbstractContextManager:
    return page.expect_navigation(wait_until="load")


def rows(page: Page, testid: str) -> list[list[str]]:
    """A table's body rows as cell texts (without detail rows and the empty-state row)."""
    return page.get_by_test_id(testid).first.evaluate("""table => Array.from(table.tBodies[0].rows)
        .filter(tr => !tr.classList.contains("detail-row") && !tr.querySelector("td.empty"))
        .map(tr => Array.from(tr.cells).map(cell => cell.innerText.trim()))""")


def messages(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".messages .message").all_inner_texts()]


def make_call(customer: Customer, call_id: str, *, provider: Provider, dialog: tuple[int, int] | None,
              **fields: Any) -> CallRecord:
    """A live call as the loader leaves it: answered (with the dialog Kamailio reported) unless told otherwise."""
    now = timezone.now()
    answered = fields.pop("answered_at", now - timedelta(seconds=30)) if dialog else None
    return CallRecord.objects.create(
        call_id=call_id, decided=True, attempted_at=now - timedelta(seconds=35), answered_at=answered,
        state=fields.pop("state", "answered" if dialog else "ringing"), customer=customer,
        customer_name=customer.name, provider=provider, provider_name=provider.name,
        expires_at=now + timedelta(hours=1), dialog_h_entry=dialog[0] if dialog else None,
        dialog_h_id=dialog[1] if dialog else None, **fields)


@pytest.fixture
def kamailio_rpc(settings) -> Iterator[KamailioRpc]:
    """Kamailio's JSON-RPC on a free port (tests/cdrs/conftest.py's server), set as KAMAILIO_RPC_URL: the live
    server runs in this process, so the setting reaches its End Calls."""
    rpc = KamailioRpc()
    rpc.start()
    settings.KAMAILIO_RPC_URL = rpc.url
    try:
        yield rpc
    finally:
        rpc.stop()


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom", channels=10)


@pytest.fixture
def carrier(db) -> Provider:
    return make_provider(name="Carrier One")


def test_dialogs_lists_a_live_call_and_refreshes_by_itself_when_another_comes_up(
        operator_page: Page, acme: Customer, carrier: Provider) -> None:
    page = operator_page
    make_call(acme, "first@edge", provider=carrier, dialog=(1, 10), cli="441632960001", dst="447700900123")

    page.goto("/")
    with navigation(page):
        page.locator(".mainnav").get_by_role("link", name="Dialogs").click()
    expect(page.locator(".mainnav a.active")).to_have_text("Dialogs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dialogs 1")
    [first] = rows(page, "dialogs")
    assert (first[1:6], first[8]) == (["Acme Telecom", "441632960001", "447700900123", "Carrier One", "Answered"],
                                      "first@edge")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads

    make_call(acme, "second@edge", provider=carrier, dialog=None, cli="441632960002", dst="447700900456")

    expect(page.get_by_test_id("dialogs").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dialogs 2")
    assert [(cells[5], cells[8]) for cells in rows(page, "dialogs")] == [("Answered", "first@edge"),
                                                                          ("Ringing", "second@edge")]
    assert page.evaluate("window.notReloaded") is True
    # Not answered yet: the edge holds no dialog to end, so its box cannot be ticked.
    expect(page.get_by_role("checkbox", name="Select call second@edge")).to_be_disabled()

    # Signed out meanwhile: the rows' address answers the login page, and the list says it is not refreshing
    # rather than showing the old rows as current.
    expect(page.get_by_text("Not refreshing")).to_be_hidden()
    page.context.clear_cookies()
    expect(page.get_by_text("Not refreshing")).to_be_visible()
    expect(page.get_by_text("Refreshes by itself")).to_be_hidden()


def test_end_calls_on_a_ticked_row_asks_kamailio_and_says_so(operator_page: Page, acme: Customer,
                                                             carrier: Provider, kamailio_rpc: KamailioRpc) -> None:
    page = operator_page
    make_call(acme, "keep@edge", provider=carrier, dialog=(7, 70))
    ending = make_call(acme, "end-me@edge", provider=carrier, dialog=(8, 80))
    page.goto(f"/customers/{acme.pk}/dialogs/")
    expect(page.locator(".card-tabs a.active")).to_have_text("Dialogs")
    end_calls = page.get_by_role("button", name="End Calls")
    expect(end_calls).to_be_disabled()

    page.get_by_role("checkbox", name="Select call end-me@edge").check()
    expect(end_calls).to_have_text("End Calls (1)")
    with page.expect_response(lambda response: response.url.endswith(f"/customers/{acme.pk}/dialogs/rows/")):
        pass  # one refresh of the rows in between: the tick stays
    expect(page.get_by_role("checkbox", name="Select call end-me@edge")).to_be_checked()
    with navigation(page):
        end_calls.click()

    assert page.url.endswith(f"/customers/{acme.pk}/dialogs/")
    assert messages(page) == ["Asked Kamailio to end 1 call: end-me@edge. They leave this list when the edge "
                              "reports them ended (MI Termination)."]
    assert [(request["method"], request["params"]) for request in kamailio_rpc.requests] == [
        ("dlg.end_dlg", [8, 80])]
    assert kamailio_rpc.paths == ["/RPC"]
    ending.refresh_from_db()
    assert ending.end_requested_at is not None
    # No customer column on the card: the state is the fifth cell.
    assert [(cells[4], cells[7]) for cells in rows(page, "dialogs")] == [("Answered", "keep@edge"),
                                                                          ("Answered ending…", "end-me@edge")]


def test_a_viewer_sees_the_calls_without_end_calls(viewer_page: Page, acme: Customer, carrier: Provider) -> None:
    page = viewer_page
    make_call(acme, "seen@edge", provider=carrier, dialog=(1, 1))

    page.goto("/dialogs/")

    assert [cells[-1] for cells in rows(page, "dialogs")] == ["seen@edge"]
    expect(page.get_by_role("button", name="End Calls")).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)


def test_latest_calls_opens_the_attempts_of_a_call(operator_page: Page, acme: Customer, carrier: Provider) -> None:
    page = operator_page
    second = make_provider(name="Carrier Two")
    make_call(acme, "done@edge", provider=second, dialog=None, state="ended", sip_code=200, sip_reason="OK",
              release_reason="Upstream BYE", duration=75, dst="447700900123", cli="441632960001",
              source_ip="203.0.113.5",
              attempts=[{"provider": carrier.pk, "gateway": "198.51.100.7:5060", "branch": 0, "code": 503,
                         "reason": "Service Unavailable"},
                        {"provider": second.pk, "gateway": "198.51.100.8:5060", "branch": 1, "code": 200,
                         "reason": "OK"}])

    page.goto(f"/customers/{acme.pk}/latest-calls/")
    [call] = rows(page, "calls")
    # Column 3 is the rating, a dash until the worker charges the call's CDR.
    assert (call[0].split()[-1], call[3], call[6], call[7], call[8]) == ("done@edge", "—", "Upstream BYE", "200 OK",
                                                                         "1:15")
    attempts = page.locator("#calls").get_by_test_id("attempts")
    expect(attempts).to_be_hidden()

    page.get_by_role("button", name="Attempts of done@edge").click()

    expect(attempts).to_be_visible()
    assert rows(page, "attempts") == [["1", "Carrier One", "198.51.100.7:5060", "503 Service Unavailable"],
                                      ["2", "Carrier Two", "198.51.100.8:5060", "200 OK"]]
