"""GET /api/v1/calls/, GET /api/v1/dialogs/ and POST /api/v1/dialogs/end/ against a real JSON-RPC server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.cdrs.helpers import T0, attempt, event, write_spool
from tests.factories import make_customer
from tests.routing.helpers import make_provider
from trunkline.audit.models import ObjectChange
from trunkline.cdrs.models import CallRecord
from trunkline.cdrs.selectors import channels_in_use, latest_calls, live_dialogs
from trunkline.cdrs.services.loading import load_spool

pytestmark = pytest.mark.django_db


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=UTC)


@pytest.fixture
def calls():
    """Three loaded calls of Acme (answered, busy, rejected) and one of Bolt."""
    acme, bolt = make_customer(name="Acme Voice"), make_customer(name="Bolt Telecom")
    provider = make_provider(name="First Telecom")
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("acme-1", T0, customer=acme.pk),
        event("routed", "acme-1", T0 + 0.1, provider=provider.pk, gateway="198.51.100.7:5060", branch=0),
        event("answered", "acme-1", T0 + 3, provider=provider.pk, dialog={"h_entry": 11, "h_id": 22}),
        event("ended", "acme-1", T0 + 33, release_reason="Downstream BYE", duration=30),
        attempt("acme-2", T0 + 60, customer=acme.pk),
        event("routed", "acme-2", T0 + 60.1, provider=provider.pk, gateway="198.51.100.7:5060", branch=0),
        event("failed", "acme-2", T0 + 61, provider=provider.pk, code=486, reason="Busy Here", final=True),
        attempt("acme-3", T0 + 120, customer=acme.pk, code=503, reason="Channel Limit Reached"),
        attempt("bolt-1", T0 + 90, customer=bolt.pk, code=402, reason="Insufficient Balance"),
    ])
    load_spool()
    return acme, bolt, provider


def ids(response) -> list[str]:
    return [row["call_id"] for row in response.json()["results"]]


def test_calls_of_a_customer_newest_first_with_the_record(api, calls) -> None:
    acme, _bolt, provider = calls
    response = api.get(f"/api/v1/calls/?customer={acme.pk}")
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert ids(response) == ["acme-3", "acme-2", "acme-1"]
    first = response.json()["results"][2]
    record = CallRecord.objects.get(call_id="acme-1")
    assert first == {
        "id": record.pk, "call_id": "acme-1", "node": "sw1", "state": "ended",
        "attempted_at": "2026-11-30T00:53:20Z", "answered_at": "2026-11-30T00:53:23Z",
        "ended_at": "2026-11-30T00:53:53Z", "customer": acme.pk, "customer_name": "Acme Voice",
        "auth_kind": "ip", "auth_id": 7, "source_ip": "203.0.113.5", "source_port": 5060, "transport": "http",
        "cli_in": "441234567890", "dst_in": "9#447911123456", "cli": "441234567890", "dst": "77447911123456",
        "pai": "", "tech_prefix": "9#", "ingress_route": None, "provider": provider.pk,
        "provider_name": "First Telecom", "sip_code": 200, "sip_reason": "OK", "release_reason": "Downstream BYE",
        "duration": 30, "pdd_ms": 3000, "ring_ms": None,
        "attempts": [{"provider": provider.pk, "gateway": "198.51.100.7:5060", "branch": 0, "code": 200,
                      "reason": "OK"}],
        "planned": [], "rate": {"card": 3, "prefix": "447", "name": "UK Mobile", "rate": "0.050000",
                                "connection_fee": "0.000000", "grace": 0, "mcd": 6, "pulse": 6},
        "max_duration": 1200, "recording": False, "expires_at": "2026-11-30T01:14:20Z", "end_requested_at": None,
        "updated_at": response.json()["results"][2]["updated_at"],
    }


def test_calls_filter_by_call_id_time_sip_code_and_state(api, calls) -> None:
    _acme, bolt, _ = calls
    assert ids(api.get("/api/v1/calls/?call_id=acme-2")) == ["acme-2"]
    assert ids(api.get("/api/v1/calls/?call_id=acme")) == []
    assert ids(api.get("/api/v1/calls/?attempted_after=2026-11-30T00:54:20Z")) == ["acme-3", "bolt-1", "acme-2"]
    assert ids(api.get("/api/v1/calls/?attempted_before=2026-11-30T00:54:20Z")) == ["acme-1"]
    assert ids(api.get("/api/v1/calls/?attempted_after=2026-11-30T01:54:20%2B01:00&attempted_before="
                       "2026-11-30T00:55:20Z")) == ["bolt-1", "acme-2"]
    assert ids(api.get("/api/v1/calls/?sip_code=486")) == ["acme-2"]
    assert ids(api.get("/api/v1/calls/?sip_code=503,402")) == ["acme-3", "bolt-1"]
    assert ids(api.get("/api/v1/calls/?state=rejected")) == ["acme-3", "bolt-1"]
    assert ids(api.get(f"/api/v1/calls/?customer={bolt.pk}&state=rejected")) == ["bolt-1"]
    assert ids(api.get("/api/v1/calls/?ordering=attempted_at")) == ["acme-1", "acme-2", "bolt-1", "acme-3"]


def test_calls_refuse_an_unknown_filter_and_a_bad_time(api, calls) -> None:
    response = api.get("/api/v1/calls/?sipcode=486")
    assert response.status_code == 400
    assert response.json()["errors"]["sipcode"][0].startswith("Unknown query parameter 'sipcode'.")
    response = api.get("/api/v1/calls/?attempted_after=yesterday")
    assert response.status_code == 400
    assert response.json()["errors"] == {"attempted_after": ["Enter a valid date/time."]}
    response = api.get("/api/v1/calls/?ordering=source_ip")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["ordering"]


def test_calls_are_read_only_and_viewers_read_them(api, api_for, viewer_user, calls) -> None:
    viewer = api_for(viewer_user)
    assert viewer.get("/api/v1/calls/").json()["count"] == 4
    record = CallRecord.objects.get(call_id="acme-1")
    assert api.delete(f"/api/v1/calls/{record.pk}/").status_code == 405
    assert api.post("/api/v1/calls/", {"call_id": "x"}, format="json").status_code == 405
    assert CallRecord.objects.count() == 4


@pytest.fixture
def live():
    """Two live calls of Acme (one answered with its dialog, one ringing) and one of Bolt answered through a 302
    (no dialog); one answered call of Acme past its expiry; one ended."""
    acme, bolt = make_customer(name="Acme Voice"), make_customer(name="Bolt Telecom")
    provider = make_provider(name="First Telecom")
    now = time.time()
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("live-1", now - 20, customer=acme.pk, expires_at=now + 1200),
        event("routed", "live-1", now - 19.9, provider=provider.pk, gateway="198.51.100.7:5060", branch=0),
        event("answered", "live-1", now - 15, provider=provider.pk, dialog={"h_entry": 3571, "h_id": 9143}),
        attempt("live-2", now - 5, customer=acme.pk, expires_at=now + 1200),
        event("routed", "live-2", now - 4.9, provider=provider.pk, gateway="198.51.100.7:5060", branch=0),
        event("early", "live-2", now - 4, provider=provider.pk, code=180),
        attempt("live-3", now - 8, customer=bolt.pk, expires_at=now + 1200),
        event("answered", "live-3", now - 6, provider=None, dialog=None),
        attempt("stale-1", now - 5000, customer=acme.pk, expires_at=now - 10),
        event("answered", "stale-1", now - 4990, dialog={"h_entry": 1, "h_id": 2}),
        attempt("done-1", now - 100, customer=acme.pk, expires_at=now + 1100),
        event("answered", "done-1", now - 90, dialog={"h_entry": 5, "h_id": 6}),
        event("ended", "done-1", now - 30, release_reason="Upstream BYE", duration=60),
    ])
    load_spool()
    return acme, bolt, provider, {record.call_id: record for record in CallRecord.objects.all()}


def test_dialogs_list_the_live_calls_of_a_customer(api, live) -> None:
    acme, _bolt, provider, records = live
    response = api.get(f"/api/v1/dialogs/?customer={acme.pk}")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["call_id"] for row in rows] == ["live-1", "live-2"]  # oldest first
    answered = rows[0]
    assert 15 <= answered.pop("duration") <= 16 + 60  # seconds since the answer, as of the request
    assert answered == {
        "id": records["live-1"].pk, "call_id": "live-1", "customer": acme.pk, "customer_name": "Acme Voice",
        "cli": "441234567890", "dst": "77447911123456", "provider": provider.pk, "provider_name": "First Telecom",
        "state": "answered", "started": records["live-1"].attempted_at.isoformat().replace("+00:00", "Z"),
        "answered_at": records["live-1"].answered_at.isoformat().replace("+00:00", "Z"),
        "expires_at": records["live-1"].expires_at.isoformat().replace("+00:00", "Z"), "end_requested_at": None,
    }
    assert (rows[1]["state"], rows[1]["duration"]) == ("ringing", None)
    assert [row["call_id"] for row in api.get("/api/v1/dialogs/").json()["results"]] == ["live-1", "live-3",
                                                                                          "live-2"]
    assert api.get("/api/v1/dialogs/?customer=999999").json()["count"] == 0
    response = api.get("/api/v1/dialogs/?custommer=1")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["custommer"]


def test_end_calls_asks_kamailio_and_the_end_comes_back_as_mi_termination(api, operator_user, live,
                                                                          kamailio_rpc) -> None:
    acme, _bolt, _provider, records = live
    record = records["live-1"]
    response = api.post("/api/v1/dialogs/end/", {"ids": [record.pk]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"ended": [record.pk], "errors": {}}
    assert [(request["jsonrpc"], request["method"], request["params"]) for request in kamailio_rpc.requests] == [
        ("2.0", "dlg.end_dlg", [3571, 9143])]
    assert kamailio_rpc.paths == ["/RPC"]
    assert kamailio_rpc.content_types == ["application/json"]
    record.refresh_from_db()
    assert record.end_requested_at is not None
    assert timezone.now() - record.end_requested_at < timedelta(minutes=1)
    change = ObjectChange.objects.get(object_id=record.pk, object_type__model="callrecord")
    assert (change.action, change.user, change.source, change.related_object_id) == (
        "update", operator_user, "api", acme.pk)
    assert change.prechange_data == {"call_id": "live-1", "state": "answered", "end_requested_at": None}
    assert change.postchange_data["end_requested_at"] is not None
    # Kamailio's ended event, without a release reason of its own, is loaded as the panel's termination.
    write_spool("calls-sw1-100-000001.jsonl", [event("ended", "live-1", time.time(), duration=16)], append=True)
    load_spool()
    record.refresh_from_db()
    assert (record.state, record.release_reason, record.duration) == ("ended", "MI Termination", 16)
    assert api.get(f"/api/v1/dialogs/?customer={acme.pk}").json()["count"] == 1


def test_a_viewer_cannot_end_calls_and_nothing_is_sent(api_for, viewer_user, live, kamailio_rpc) -> None:
    record = live[3]["live-1"]
    response = api_for(viewer_user).post("/api/v1/dialogs/end/", {"ids": [record.pk]}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this change.", "errors": {}}
    assert kamailio_rpc.requests == []
    record.refresh_from_db()
    assert record.end_requested_at is None
    assert not ObjectChange.objects.filter(object_type__model="callrecord").exists()


def test_unknown_or_ended_ids_are_refused_by_name_and_nothing_is_sent(api, live, kamailio_rpc) -> None:
    records = live[3]
    asked = [records["live-1"].pk, 999_999, records["done-1"].pk, records["stale-1"].pk]
    response = api.post("/api/v1/dialogs/end/", {"ids": asked}, format="json")
    assert response.status_code == 400
    message = (f"No live dialog with id 999999, {records['done-1'].pk}, {records['stale-1'].pk}.")
    assert response.json() == {"detail": f"ids: {message}", "errors": {"ids": [message]}}
    assert kamailio_rpc.requests == []
    assert not CallRecord.objects.filter(end_requested_at__isnull=False).exists()


def test_a_call_without_a_reported_dialog_cannot_be_ended(api, live, kamailio_rpc) -> None:
    records = live[3]
    response = api.post("/api/v1/dialogs/end/", {"ids": [records["live-1"].pk, records["live-3"].pk]},
                        format="json")
    assert response.status_code == 400
    message = f"Dialog {records['live-3'].pk} cannot be ended: the edge did not report its dialog."
    assert response.json()["errors"] == {"ids": [message]}
    assert kamailio_rpc.requests == []


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "1"}, {"ids": ["a"]}, {"ids": [0]},
                                  {"ids": [2**63]}])
def test_a_malformed_end_request_is_a_400(api, live, kamailio_rpc, body) -> None:
    response = api.post("/api/v1/dialogs/end/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["ids"]
    assert kamailio_rpc.requests == []


def test_kamailio_refusing_is_reported_per_id(api, live, kamailio_rpc) -> None:
    record = live[3]["live-1"]
    kamailio_rpc.fail_with = "Requested Dialog not found"
    response = api.post("/api/v1/dialogs/end/", {"ids": [record.pk]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"ended": [], "errors": {str(record.pk): "Kamailio refused: Requested Dialog not "
                                                                       "found."}}
    assert len(kamailio_rpc.requests) == 1
    record.refresh_from_db()
    assert record.end_requested_at is None


def test_kamailio_unreachable_is_reported_per_id(api, live, settings, closed_port) -> None:
    record = live[3]["live-1"]
    settings.KAMAILIO_RPC_URL = f"http://127.0.0.1:{closed_port}/RPC"
    response = api.post("/api/v1/dialogs/end/", {"ids": [record.pk]}, format="json")
    assert response.status_code == 200
    assert response.json()["ended"] == []
    assert response.json()["errors"][str(record.pk)].startswith("Kamailio's JSON-RPC is unreachable: ")


def test_selectors(live) -> None:
    acme, bolt, _provider, _records = live
    other = make_customer()
    assert channels_in_use([acme.pk, bolt.pk, other.pk]) == {acme.pk: 2, bolt.pk: 1, other.pk: 0}
    assert channels_in_use([]) == {}
    assert [record.call_id for record in live_dialogs()] == ["live-1", "live-3", "live-2"]
    assert [record.call_id for record in live_dialogs(acme)] == ["live-1", "live-2"]
    assert [record.call_id for record in latest_calls(acme, 3)] == ["live-2", "live-1", "done-1"]
    assert [record.call_id for record in latest_calls(acme.pk, 10)] == ["live-2", "live-1", "done-1", "stale-1"]


def test_kamailio_answering_its_fault_as_an_http_status_is_reported_with_its_message(api, live, kamailio_rpc) -> None:
    record = live[3]["live-1"]
    kamailio_rpc.fail_with, kamailio_rpc.fail_status = "Dialog not found", 404
    response = api.post("/api/v1/dialogs/end/", {"ids": [record.pk]}, format="json")
    assert response.json() == {"ended": [], "errors": {str(record.pk): "Kamailio refused: Dialog not found."}}


def test_a_real_kamailio_takes_the_request_and_says_it_holds_no_such_dialog(api, live, real_kamailio) -> None:
    # Kamailio looks the dialog up, so it read both ids (without them it answers 500 "Invalid parameters").
    # Ending a dialog it holds is the end-to-end test's (a SIPp call through Kamailio).
    record = live[3]["live-1"]
    response = api.post("/api/v1/dialogs/end/", {"ids": [record.pk]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"ended": [], "errors": {str(record.pk): "Kamailio refused: Dialog not found."}}
    record.refresh_from_db()
    assert record.end_requested_at is None
