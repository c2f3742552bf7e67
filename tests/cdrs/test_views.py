"""Dialogs (the global page, the card's tab, their rows for the refresh, End Calls through a real HTTP server
standing in for Kamailio's JSON-RPC), the real calls on Latest Calls, and the live channels on the Main tab and the
board. The rows are call records written as the loader leaves them."""

from __future__ import annotations

from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.cdrs.conftest import KamailioRpc
from tests.factories import make_customer
from tests.routing.helpers import make_provider
from tests.sipauth.factories import make_ip_auth, make_sip_user
from trunkline.audit.models import ObjectChange
from trunkline.cdrs.models import CallRecord
from trunkline.core import cardtabs, livecalls
from trunkline.core.models import User
from trunkline.customers.models import Customer
from trunkline.routing.models import Provider

# The panel's clock, frozen (the `frozen` fixture) so a duration so far reads the same whenever the test runs.
NOW = timezone.now().replace(microsecond=0)


# --- Kamailio's JSON-RPC: tests/cdrs/conftest.py's real HTTP server (kamailio_rpc) --------------------------------

def rpc_calls(rpc: KamailioRpc) -> list[tuple[str, str, list[int]]]:
    return [(path, request["method"], request["params"]) for path, request in zip(rpc.paths, rpc.requests,
                                                                                  strict=True)]


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "now", lambda: NOW)


# --- data -------------------------------------------------------------------------------------------------------

def make_call(customer: Customer | None, call_id: str, *, state: str = "answered", started: datetime | None = None,
              answered: datetime | None = None, dialog: tuple[int, int] | None = None,
              provider: Provider | None = None, expires_in: int = 3600, **fields: Any) -> CallRecord:
    """A call record as the loader leaves it: live while its state is routed/ringing/answered and expires_at is
    ahead. An answered call carries the dialog Kamailio reported (h_entry, h_id)."""
    started = started or NOW - timedelta(seconds=90)
    if state == "answered" and answered is None:
        answered = started + timedelta(seconds=5)
    return CallRecord.objects.create(
        call_id=call_id, decided=True, attempted_at=started, answered_at=answered, state=state, customer=customer,
        customer_name=customer.name if customer else "", provider=provider,
        provider_name=provider.name if provider else "", expires_at=NOW + timedelta(seconds=expires_in),
        dialog_h_entry=dialog[0] if dialog else None, dialog_h_id=dialog[1] if dialog else None, **fields)


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom", channels=10)


@pytest.fixture
def bolt(db) -> Customer:
    return make_customer(name="Bolt Voice", channels=0)


@pytest.fixture
def carrier(db) -> Provider:
    return make_provider(name="Carrier One")


@pytest.fixture
def calls(acme: Customer, bolt: Customer, carrier: Provider) -> dict[str, CallRecord]:
    """Acme: one answered call 60 s ago, one still ringing; Bolt: one answered; plus calls that are not live (ended,
    failed, answered but past the switch's expiry), which no list shows."""
    return {
        "acme_up": make_call(acme, "a1@edge", cli="441632960001", dst="447700900123", provider=carrier,
                             started=NOW - timedelta(seconds=65), answered=NOW - timedelta(seconds=60),
                             dialog=(11, 101)),
        "acme_ringing": make_call(acme, "a2@edge", state="ringing", cli="441632960002", dst="447700900456",
                                  provider=carrier, started=NOW - timedelta(seconds=3)),
        "bolt_up": make_call(bolt, "b1@edge", cli="33123456789", dst="4930901820", provider=carrier,
                             started=NOW - timedelta(seconds=3700), answered=NOW - timedelta(seconds=3662),
                             dialog=(12, 202)),
        "acme_ended": make_call(acme, "a3@edge", state="ended", cli="441632960003", dst="447700900789",
                                ended_at=NOW - timedelta(seconds=10), duration=30, release_reason="Downstream BYE"),
        "acme_failed": make_call(acme, "a4@edge", state="failed", sip_code=503, sip_reason="Service Unavailable"),
        "acme_expired": make_call(acme, "a5@edge", expires_in=-1, dialog=(13, 303)),
    }


# --- reading pages ------------------------------------------------------------------------------------------------

class Page(HTMLParser):
    """Body rows (cell texts) of the tables by data-testid, nested tables apart and detail rows left out; the
    checkboxes named ids (value, disabled); the buttons' texts; the flash messages."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.boxes: list[tuple[str, bool]] = []
        self.buttons: list[str] = []
        self.messages: list[str] = []
        self._stack: list[dict[str, Any]] = []  # open tables
        self._texts: list[list[str]] = []  # open captures (cells, buttons, messages)
        self._kinds: list[str] = []
        self._message_depth: int | None = None
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div":
            self._depth += 1
            if "message" in classes:
                self._message_depth = self._depth
                self._open("message")
        elif tag == "table":
            self._stack.append({"testid": attributes.get("data-testid"), "body": False, "row": None})
        elif tag == "tbody" and self._stack:
            self._stack[-1]["body"] = True
        elif tag == "tr" and self._stack and self._stack[-1]["body"]:
            self._stack[-1]["row"] = None if "detail-row" in classes else []
        elif tag in ("td", "th") and self._stack and self._stack[-1]["row"] is not None:
            self._open(f"cell{len(self._stack)}")
        elif tag == "input" and attributes.get("name") == "ids":
            self.boxes.append((attributes.get("value") or "", "disabled" in attributes))
        elif tag == "button":
            self._open("button")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            if self._message_depth == self._depth:
                self.messages.append(self._close("message"))
                self._message_depth = None
            self._depth -= 1
        elif tag in ("td", "th") and f"cell{len(self._stack)}" in self._kinds:
            self._stack[-1]["row"].append(self._close(f"cell{len(self._stack)}"))
        elif tag == "tr" and self._stack and self._stack[-1]["row"] is not None:
            table = self._stack[-1]
            self.tables.setdefault(table["testid"], []).append(table["row"])
            table["row"] = None
        elif tag == "table" and self._stack:
            self._stack.pop()
        elif tag == "button" and "button" in self._kinds:
            self.buttons.append(self._close("button"))

    def handle_data(self, data: str) -> None:
        for texts in self._texts:
            texts.append(data)

    def _open(self, kind: str) -> None:
        self._kinds.append(kind)
        self._texts.append([])

    def _close(self, kind: str) -> str:
        index = len(self._kinds) - 1 - self._kinds[::-1].index(kind)
        self._kinds.pop(index)
        return " ".join("".join(self._texts.pop(index)).split())


def page(client: Client, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return Page(response.content.decode())


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def row(call: CallRecord, *cells: str) -> list[str]:
    return ["", *cells, call.call_id]


DIALOGS = "/dialogs/"


def tab(customer: Customer) -> str:
    return f"/customers/{customer.pk}/dialogs/"


# --- the lists --------------------------------------------------------------------------------------------------

def test_dialogs_page_lists_every_customers_live_calls_oldest_first(web: Client, calls) -> None:
    shown = page(web, DIALOGS)

    assert shown.tables["dialogs"] == [
        row(calls["bolt_up"], "Bolt Voice", "33123456789", "4930901820", "Carrier One", "Answered",
            utc(NOW - timedelta(seconds=3700)), "1:01:02"),
        row(calls["acme_up"], "Acme Telecom", "441632960001", "447700900123", "Carrier One", "Answered",
            utc(NOW - timedelta(seconds=65)), "1:00"),
        row(calls["acme_ringing"], "Acme Telecom", "441632960002", "447700900456", "Carrier One", "Ringing",
            utc(NOW - timedelta(seconds=3)), "—"),
    ]
    # A ringing call has no dialog at the edge yet: its box cannot be ticked.
    assert shown.boxes == [(str(calls["bolt_up"].pk), False), (str(calls["acme_up"].pk), False),
                           (str(calls["acme_ringing"].pk), True)]
    assert "End Calls" in shown.buttons


def test_the_card_tab_lists_this_customers_live_calls_only(web: Client, acme: Customer, calls) -> None:
    shown = page(web, tab(acme))

    assert shown.tables["dialogs"] == [
        row(calls["acme_up"], "441632960001", "447700900123", "Carrier One", "Answered",
            utc(NOW - timedelta(seconds=65)), "1:00"),
        row(calls["acme_ringing"], "441632960002", "447700900456", "Carrier One", "Ringing",
            utc(NOW - timedelta(seconds=3)), "—"),
    ]
    assert [box for box, _ in shown.boxes] == [str(calls["acme_up"].pk), str(calls["acme_ringing"].pk)]


def test_the_dialogs_tab_follows_latest_calls_on_the_card(viewer_user: User) -> None:
    assert [(tab.key, tab.url_name, tab.order) for tab in cardtabs.tabs_for(viewer_user)][4:6] == [
        ("latest_calls", "customer_routing:latest_calls_tab", 50), ("dialogs", "cdrs:dialogs_tab", 60)]


def test_no_live_calls_says_what_appears_there(web: Client, acme: Customer) -> None:
    make_call(acme, "old@edge", state="ended")

    expected = ("No live calls{}. Calls appear here while they are up: from the moment the switch routes one until "
                "the edge reports it ended. This list refreshes by itself; there is no need to reload.")
    assert page(web, DIALOGS).tables["dialogs"] == [[expected.format("")]]
    assert page(web, tab(acme)).tables["dialogs"] == [[expected.format(" for this customer")]]


def test_the_rows_endpoint_gives_the_rows_and_count_the_refresh_swaps_in(web: Client, acme: Customer,
                                                                         calls) -> None:
    response = web.get(f"{tab(acme)}rows/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert (data["count"], data["updated"]) == (2, NOW.strftime("%H:%M:%S UTC"))
    rows = Page(f'<table data-testid="dialogs"><tbody>{data["html"]}</tbody></table>').tables["dialogs"]
    assert [cells[-1] for cells in rows] == ["a1@edge", "a2@edge"]

    everyone = web.get(f"{DIALOGS}rows/").json()
    assert everyone["count"] == 3


def test_viewers_see_the_calls_but_no_boxes_and_no_end_calls(viewer_user: User, acme: Customer, calls) -> None:
    viewer = client_for(viewer_user)
    for url in (DIALOGS, tab(acme)):
        shown = page(viewer, url)
        assert shown.boxes == []
        assert "End Calls" not in shown.buttons
    assert page(viewer, tab(acme)).tables["dialogs"] == [
        ["441632960001", "447700900123", "Carrier One", "Answered", utc(NOW - timedelta(seconds=65)), "1:00",
         "a1@edge"],
        ["441632960002", "447700900456", "Carrier One", "Ringing", utc(NOW - timedelta(seconds=3)), "—", "a2@edge"]]


# --- End Calls --------------------------------------------------------------------------------------------------

def test_end_calls_asks_kamailio_to_end_the_ticked_dialogs_and_names_them(web: Client, calls,
                                                                          kamailio_rpc: KamailioRpc) -> None:
    response = web.post(f"{DIALOGS}end/", {"ids": [calls["acme_up"].pk, calls["bolt_up"].pk]}, follow=True)

    assert response.redirect_chain == [(DIALOGS, 302)]
    assert rpc_calls(kamailio_rpc) == [("/RPC", "dlg.end_dlg", [11, 101]), ("/RPC", "dlg.end_dlg", [12, 202])]
    assert set(kamailio_rpc.content_types) == {"application/json"}
    assert Page(response.content.decode()).messages == [
        "Asked Kamailio to end 2 calls: a1@edge, b1@edge. They leave this list when the edge reports them ended "
        "(MI Termination)."]
    ended = CallRecord.objects.filter(end_requested_at=NOW).order_by("call_id")
    assert [record.call_id for record in ended] == ["a1@edge", "b1@edge"]
    # Still listed, marked as ending, until Kamailio's ended event is loaded.
    assert [cells[5] for cells in Page(response.content.decode()).tables["dialogs"]] == [
        "Answered ending…", "Answered ending…", "Ringing"]


def test_end_calls_reports_what_kamailio_refused_and_what_cannot_be_ended(web: Client, acme: Customer, calls,
                                                                          kamailio_rpc: KamailioRpc) -> None:
    kamailio_rpc.fail_with = "Dialog not found"

    response = web.post(f"{tab(acme)}end/", {"ids": [calls["acme_up"].pk, calls["acme_ringing"].pk,
                                                     calls["acme_ended"].pk]}, follow=True)

    assert response.redirect_chain == [(tab(acme), 302)]
    assert rpc_calls(kamailio_rpc) == [("/RPC", "dlg.end_dlg", [11, 101])]
    assert Page(response.content.decode()).messages == [
        "1 call no longer live for this customer: nothing was sent for it.",
        "Could not end a2@edge: it is not answered yet, so the edge has no dialog to end. Try again once it shows "
        "Answered.",
        "Could not end a1@edge: Kamailio refused: Dialog not found.",
    ]
    assert not CallRecord.objects.filter(end_requested_at__isnull=False).exists()


def test_the_card_ends_only_its_own_customers_calls(web: Client, acme: Customer, calls,
                                                    kamailio_rpc: KamailioRpc) -> None:
    changes = ObjectChange.objects.count()

    response = web.post(f"{tab(acme)}end/", {"ids": [calls["bolt_up"].pk]}, follow=True)

    assert kamailio_rpc.requests == []
    assert Page(response.content.decode()).messages == [
        "1 call no longer live for this customer: nothing was sent for it."]
    assert not CallRecord.objects.filter(end_requested_at__isnull=False).exists()
    assert ObjectChange.objects.count() == changes


def test_a_viewers_end_calls_is_refused_and_sends_nothing(viewer_user: User, acme: Customer, calls,
                                                          kamailio_rpc: KamailioRpc) -> None:
    viewer = client_for(viewer_user)
    changes = ObjectChange.objects.count()

    for url in (f"{DIALOGS}end/", f"{tab(acme)}end/"):
        assert viewer.post(url, {"ids": [calls["acme_up"].pk]}).status_code == 403

    assert kamailio_rpc.requests == []
    assert not CallRecord.objects.filter(end_requested_at__isnull=False).exists()
    assert ObjectChange.objects.count() == changes


def test_end_calls_with_nothing_ticked_sends_nothing(web: Client, calls, kamailio_rpc: KamailioRpc) -> None:
    response = web.post(f"{DIALOGS}end/", {"ids": ["", "x1"]}, follow=True)

    assert kamailio_rpc.requests == []
    assert Page(response.content.decode()).messages == ["Tick at least one call to end."]


def test_kamailio_unreachable_is_said_and_nothing_is_marked(web: Client, calls, settings, closed_port: int) -> None:
    settings.KAMAILIO_RPC_URL = f"http://127.0.0.1:{closed_port}/RPC"

    response = web.post(f"{DIALOGS}end/", {"ids": [calls["acme_up"].pk]}, follow=True)

    [message] = Page(response.content.decode()).messages
    assert message.startswith("Could not end a1@edge: Kamailio's JSON-RPC is unreachable: ")
    assert not CallRecord.objects.filter(end_requested_at__isnull=False).exists()


# --- Latest Calls, channels in use ----------------------------------------------------------------------------------

def test_latest_calls_lists_the_real_calls_with_their_attempts_above_the_simulations(web: Client, acme: Customer,
                                                                                     bolt: Customer,
                                                                                     carrier: Provider) -> None:
    second = make_provider(name="Carrier Two")
    entry = make_ip_auth(acme, ip="203.0.113.5")
    user = make_sip_user(acme, username="acme-pbx")
    make_call(acme, "c1@edge", state="ended", started=NOW - timedelta(seconds=300),
              answered=NOW - timedelta(seconds=290), ended_at=NOW - timedelta(seconds=200), duration=90,
              release_reason="Downstream BYE", sip_code=200, sip_reason="OK", tech_prefix="11#", dst="447700900123",
              cli="441632960001", dst_in="11#07700900123", cli_in="01632960001", auth_kind="ip", auth_id=entry.pk,
              source_ip="203.0.113.5", source_port=5060, transport="udp", pdd_ms=1250, ring_ms=4000, node="sw1",
              provider=second,
              attempts=[{"provider": carrier.pk, "gateway": "198.51.100.7:5060", "branch": 0, "code": 503,
                         "reason": "Service Unavailable"},
                        {"provider": second.pk, "gateway": "198.51.100.8:5060", "branch": 1, "code": 200,
                         "reason": "OK"}])
    make_call(acme, "c2@edge", state="rejected", started=NOW - timedelta(seconds=100), sip_code=402,
              sip_reason="Insufficient Balance", auth_kind="sip_user", auth_id=user.pk, source_ip="198.51.100.20",
              dst="4930901820", cli="33123456789", expires_in=-1)
    make_call(bolt, "theirs@edge", state="ended", duration=5)

    shown = page(web, f"/customers/{acme.pk}/latest-calls/")

    # The first cell (time and call id) opens the call's detail row. No CDR is charged yet: no rating.
    assert shown.tables["calls"] == [
        [f"{utc(NOW - timedelta(seconds=100))} c2@edge", "—", "4930901820", "—", "33123456789", "SIP user acme-pbx",
         "—", "402 Insufficient Balance", "—", "—", "198.51.100.20"],
        [f"{utc(NOW - timedelta(seconds=300))} c1@edge", "11#", "447700900123", "—", "441632960001",
         "IP 203.0.113.5", "Downstream BYE", "200 OK", "1:30", "1.25 s", "203.0.113.5"],
    ]
    assert shown.tables["attempts"] == [
        ["No provider was tried: the switch rejected the call (402 Insufficient Balance)."],
        ["1", "Carrier One", "198.51.100.7:5060", "503 Service Unavailable"],
        ["2", "Carrier Two", "198.51.100.8:5060", "200 OK"],
    ]
    # The simulations keep their own table below.
    assert shown.tables["latest-calls"] == [[
        "No calls yet. Press Simulate to see how a call would be routed; each simulation is kept here."]]


def test_latest_calls_without_calls_says_when_they_come(web: Client, acme: Customer) -> None:
    assert page(web, f"/customers/{acme.pk}/latest-calls/").tables["calls"] == [[
        "No calls yet. Every call this customer sends to the switch is listed here once the worker loads the "
        "switch's call records (within seconds while trunkline worker runs)."]]


def test_main_tab_and_board_show_live_channels(web: Client, acme: Customer, bolt: Customer, calls) -> None:
    main = web.get(f"/customers/{acme.pk}/").content.decode()
    assert '<span class="value" data-testid="channels-in-use">2 of 10</span>' in main

    html = web.get("/customers/").content.decode()
    columns = [chunk.split('"', 1)[0] for chunk in html.split('data-column="')[1:]]
    board = Page(html).tables["objects"]
    at = 1 + columns.index("live_channels")  # after the selection box
    assert [(cells[1], cells[at]) for cells in board] == [("Acme Telecom", "2 / 10"), ("Bolt Voice", "1 / Unlimited")]


def test_the_board_counts_live_channels_of_a_page_in_one_query(web: Client, carrier: Provider) -> None:
    customers = [make_customer(name=f"Carrier {number}") for number in range(5)]
    for number, customer in enumerate(customers):
        for call in range(number):
            make_call(customer, f"{number}-{call}@edge", dialog=(number, call))

    with CaptureQueriesContext(connection) as captured:
        html = web.get("/customers/").content.decode()
    counting = [query["sql"] for query in captured.captured_queries if "cdrs_callrecord" in query["sql"]]
    assert len(counting) == 1
    columns = [chunk.split('"', 1)[0] for chunk in html.split('data-column="')[1:]]
    at = 1 + columns.index("live_channels")
    assert [cells[at] for cells in Page(html).tables["objects"]] == [
        "0 / Unlimited", "1 / Unlimited", "2 / Unlimited", "3 / Unlimited", "4 / Unlimited"]


# --- core.livecalls: how customers and routing reach the call records without importing cdrs -------------------------

def test_without_cdrs_registered_the_lower_apps_show_no_calls(web: Client, acme: Customer, calls,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(livecalls, "_channels_source", [])
    monkeypatch.setattr(livecalls, "_panels", {})

    main = web.get(f"/customers/{acme.pk}/").content.decode()
    assert '<span class="value" data-testid="channels-in-use">0 of 10</span>' in main
    latest = web.get(f"/customers/{acme.pk}/latest-calls/").content.decode()
    assert '<h2 id="latest-calls-heading">Latest Calls</h2>' in latest
    assert "calls" not in Page(latest).tables


def test_a_second_channels_source_is_refused_and_the_first_kept(acme: Customer, calls) -> None:
    with pytest.raises(ValueError) as raised:
        livecalls.register_channels_source(lambda ids: dict.fromkeys(ids, 99))
    assert str(raised.value) == "A live channels source is already registered."
    assert livecalls.channels_in_use([acme.pk]) == {acme.pk: 2}
    with pytest.raises(ValueError) as raised:
        livecalls.register_tab_panel("latest_calls", "calls", lambda request, customer: "")
    assert str(raised.value) == "The 'latest_calls' tab already has a panel 'calls'."
