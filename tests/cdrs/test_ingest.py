"""CDR ingest (services.ingest and POST /api/v1/cdrs/ingest/): exact ratings and charges, replays and duplicates
that change nothing, every validation message, the loader's finished calls charged once, batches not rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tests.cdrs.helpers import attempt, event, write_spool
from tests.factories import make_customer
from tests.routing.helpers import SIMULATE_IP, simulate_world
from trunkline.cdrs.models import Cdr, CodeRollup, Rollup
from trunkline.cdrs.rating import VERSIONS
from trunkline.cdrs.services.ingest import cdrs_ingest
from trunkline.cdrs.services.loading import load_spool
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db

URL = "/api/v1/cdrs/ingest/"


@pytest.fixture(autouse=True)
def fresh_rating_cache():
    VERSIONS.clear()  # revision ids repeat across tests (rolled-back transactions): no rows of another test's card
    yield
    VERSIONS.clear()


@pytest.fixture
def world():
    """simulate_world (Retail: 44 at 0.05/min, 6/6; Cheap's provider buys 447 at 0.01, 1/1) with 10 % tax."""
    world = simulate_world()
    with change_context(source="test"):
        Customer.objects.filter(pk=world.customer.pk).update(tax_rate=Decimal("10"))
    # The card revisions went live at their import: the calls start after it.
    world.t0 = (timezone.now() + timedelta(seconds=2)).replace(microsecond=0)
    return world


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cdr(world: Any, call_id: str, *, talk: float | None = 60, code: int = 200, **fields: Any) -> dict[str, Any]:
    start = world.t0
    answer = start + timedelta(seconds=4) if talk is not None else None
    end = (answer + timedelta(seconds=talk)) if answer is not None else start + timedelta(seconds=3)
    data = {"call_id": call_id, "leg": "a", "customer": world.customer.pk, "ip": SIMULATE_IP,
            "cli": "441234567890", "dst": "447911123456", "start": iso(start),
            "answer": iso(answer) if answer else None, "end": iso(end), "sip_code": code,
            "release_reason": "Downstream BYE" if answer else "", "provider": world.cheap.provider_id}
    data.update(fields)
    return data


def balance(world: Any) -> Decimal:
    return Customer.objects.get(pk=world.customer.pk).balance


def test_new_cdrs_are_rated_charged_with_tax_and_counted(world) -> None:
    result = cdrs_ingest(records=[cdr(world, "c-1"), cdr(world, "c-2", talk=61.5),
                                  cdr(world, "c-3", talk=None, code=486, sip_reason="Busy Here")], source="api")
    assert (result.new, result.duplicates, result.errors) == (3, 0, [])
    first = Cdr.objects.get(call_id="c-1")
    assert (first.leg, first.source, first.duration_ms, first.duration, first.customer_billed) == (
        "a", "api", 60_000, 60, 60)
    assert (first.customer_dest_code, first.customer_rate, first.customer_charge, first.customer_tax,
            first.ledger_total, first.customer_currency) == (
        "44", Decimal("0.05"), Decimal("0.05"), Decimal("0.005"), Decimal("0.055"), "USD")
    assert (first.provider_id, first.provider_dest_code, first.provider_billed, first.provider_charge,
            first.profit) == (world.cheap.provider_id, "447", 60, Decimal("0.01"), Decimal("0.04"))
    # 61.5 s: 62 whole seconds (full up), billed 6 + 10 x 6 = 66 s: 0.055 net, 0.0055 tax.
    second = Cdr.objects.get(call_id="c-2")
    assert (second.duration_ms, second.duration, second.customer_billed, second.customer_charge,
            second.customer_tax, second.ledger_total) == (
        61_500, 62, 66, Decimal("0.055"), Decimal("0.0055"), Decimal("0.0605"))
    failed = Cdr.objects.get(call_id="c-3")
    assert (failed.answer, failed.duration, failed.customer_billed, failed.customer_charge, failed.ledger_total,
            failed.sip_code, failed.sip_reason) == (None, 0, 0, Decimal(0), Decimal(0), 486, "Busy Here")
    entries = list(LedgerEntry.objects.order_by("id").values_list("kind", "amount", "cdr_id", "reference"))
    assert entries == [("charge", Decimal("-0.055"), first.pk, "call c-1/a"),
                       ("charge", Decimal("-0.0605"), second.pk, "call c-2/a")]
    assert balance(world) == Decimal("-0.1155")
    rollup = Rollup.objects.get()
    assert (rollup.customer_id, rollup.provider_id, rollup.destination, rollup.attempts, rollup.connected,
            rollup.duration, rollup.customer_billed, rollup.customer_charge) == (
        world.customer.pk, world.cheap.provider_id, "UK", 3, 2, 122, 126, Decimal("0.105"))
    assert sorted(CodeRollup.objects.values_list("sip_code", "calls")) == [(200, 2), (486, 1)]


def test_a_replay_and_a_key_given_twice_change_nothing(world) -> None:
    records = [cdr(world, "c-1"), cdr(world, "c-2")]
    assert cdrs_ingest(records=records, source="api").new == 2
    before = (balance(world), LedgerEntry.objects.count(), list(Rollup.objects.values_list("attempts", flat=True)))
    again = cdrs_ingest(records=[*records, cdr(world, "c-3"), cdr(world, "c-3", talk=999)], source="api")
    assert (again.new, again.duplicates) == (1, 3)
    assert Cdr.objects.get(call_id="c-3").duration == 60  # the first line of a key is the record
    assert balance(world) == before[0] - Decimal("0.055")
    assert LedgerEntry.objects.count() == before[1] + 1
    assert list(Rollup.objects.values_list("attempts", flat=True)) == [3]
    # Another leg of the same call is another CDR.
    assert cdrs_ingest(records=[cdr(world, "c-1", leg="b")], source="api").new == 1
    assert Cdr.objects.filter(call_id="c-1").count() == 2


def test_batches_share_their_queries(world, django_assert_max_num_queries) -> None:
    records = [cdr(world, f"b-{number:04d}") for number in range(1000)]
    # Per batch of 100: rating reads, the inserts, the customer lock, the entries, the balance, the rollups.
    with django_assert_max_num_queries(160):
        result = cdrs_ingest(records=records, source="api", batch_size=100)
    assert result.new == 1000
    assert LedgerEntry.objects.filter(kind="charge").count() == 1000
    assert balance(world) == Decimal("-55.000")
    assert Rollup.objects.get().attempts == 1000


ERRORS = [
    ({"call_id": ""}, "call_id", "call_id is required."),
    ({"call_id": "x" * 256}, "call_id", "call_id is longer than 255 characters."),
    ({"call_id": 5}, "call_id", "call_id must be text."),
    ({"leg": "a b"}, "leg", 'leg must be 1 to 16 letters, digits, \'_\' or \'-\' (default "a").'),
    ({"leg": "x" * 17}, "leg", 'leg must be 1 to 16 letters, digits, \'_\' or \'-\' (default "a").'),
    ({"customer": None}, "customer", "customer is required."),
    ({"customer": "7"}, "customer", "customer must be an id (a whole number)."),
    ({"customer": 999999}, "customer", "customer 999999 does not exist."),
    ({"provider": 999999}, "provider", "provider 999999 does not exist."),
    ({"route": 999999}, "route", "route 999999 does not exist."),
    ({"ip": "300.1.1.1"}, "ip", "ip must be an IPv4 or IPv6 address."),
    ({"ip": None}, "ip", "Give ip or sip_user: how the customer was identified."),
    ({"cli": None}, "cli", "cli is required (it may be empty)."),
    ({"cli": "1" * 129}, "cli", "cli is longer than 128 characters."),
    ({"dst": ""}, "dst", "dst is required."),
    ({"dst": "+44791"}, "dst", "dst must be 1 to 128 digits."),
    ({"start": None}, "start", "start is required."),
    ({"start": "yesterday"}, "start", "start must be an ISO 8601 time with a timezone, e.g. 2026-12-01T10:00:00Z."),
    ({"start": "2026-12-01T10:00:00"}, "start", "start has no timezone; give it in UTC, e.g. 2026-12-01T10:00:00Z."),
    ({"start": "0001-01-01T00:00:00+01:00"}, "start", "start is out of range (years 1 to 9999 in UTC)."),
    ({"end": None}, "end", "end is required."),
    ({"end": "9999-12-31T23:59:59-01:00"}, "end", "end is out of range (years 1 to 9999 in UTC)."),
    ({"end": "9999-12-31T23:59:59Z"}, "end", "end is more than 7 days after start."),
    ({"answer": "2000-01-01T00:00:00Z"}, "answer", "answer must not be before start."),
    ({"end": "2000-01-01T00:00:00Z"}, "end", "end must not be before answer."),
    ({"sip_code": 99}, "sip_code", "sip_code must be a SIP code from 100 to 699."),
    ({"sip_code": None}, "sip_code", "sip_code is required."),
    ({"release_reason": "Hung up"}, "release_reason",
     "release_reason must be empty or one of: Balance Disconnect, Downstream BYE, Lifetime Timeout, "
     "MI Termination, Ping Timeout, Upstream BYE."),
    ({"pdd_ms": -1}, "pdd_ms", "pdd_ms must be a whole number from 0 to 2147483647."),
    ({"tech_prefix": "1" * 21}, "tech_prefix", "tech_prefix is longer than 20 characters."),
    ({"colour": "red"}, "colour", "Unknown field 'colour'."),
]


@pytest.mark.parametrize(("change", "name", "message"), ERRORS, ids=[f"{e[1]}-{i}" for i, e in enumerate(ERRORS)])
def test_a_bad_field_is_named_by_line_and_nothing_is_written(world, change, name, message) -> None:
    result = cdrs_ingest(records=[cdr(world, "ok-1"), {**cdr(world, "bad"), **change}, cdr(world, "ok-2")],
                         source="api")
    assert (result.new, result.duplicates, result.errors) == (0, 0, [{"line": 2, "field": name,
                                                                      "message": message}])
    assert (Cdr.objects.count(), LedgerEntry.objects.count(), Rollup.objects.count(), balance(world)) == (
        0, 0, 0, Decimal(0))


def test_a_route_of_another_customer_is_refused(world) -> None:
    other = make_customer(name="Other Voice")
    result = cdrs_ingest(records=[cdr(world, "c-1", customer=other.pk, route=world.route.pk)], source="api")
    assert result.errors == [{"line": 1, "field": "route",
                              "message": f"route {world.route.pk} is not an ingress route of customer {other.pk}."}]


def test_times_with_an_offset_are_stored_in_utc_and_a_sip_user_identifies(world) -> None:
    start = world.t0.astimezone(timezone.get_fixed_timezone(120))
    record = cdr(world, "tz-1", ip=None, sip_user="acme-1", start=start.isoformat())
    assert cdrs_ingest(records=[record], source="csv").new == 1
    stored = Cdr.objects.get()
    assert (stored.start, stored.sip_user, stored.source_ip, stored.source) == (world.t0, "acme-1", "", "csv")


#
# The API
#


def ndjson(*records: dict[str, Any]) -> str:
    import json

    return "".join(json.dumps(record) + "\n" for record in records)


def test_the_api_answers_new_and_duplicates(world, operator_user, api_for) -> None:
    client = api_for(operator_user)
    body = ndjson(cdr(world, "c-1"), cdr(world, "c-2"))
    response = client.post(URL, body, content_type="application/x-ndjson")
    assert (response.status_code, response.json()) == (200, {"new": 2, "duplicates": 0, "errors": []})
    response = client.post(URL, "\n" + body + "\n", content_type="text/plain")
    assert (response.status_code, response.json()) == (200, {"new": 0, "duplicates": 2, "errors": []})
    assert LedgerEntry.objects.filter(created_by=operator_user).count() == 2


def test_the_api_refuses_bad_lines_by_their_line_number(world, operator_user, api_for) -> None:
    body = ndjson(cdr(world, "c-1")) + "\n" + "{not json\n" + ndjson(cdr(world, "c-2", dst="abc"))
    response = api_for(operator_user).post(URL, body, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert response.json() == {"detail": "1 line has errors; nothing was written.", "new": 0, "duplicates": 0,
                               "errors": [{"line": 3, "field": "",
                                           "message": "Not valid JSON: Expecting property name enclosed in double "
                                                      "quotes: line 1 column 2 (char 1)."}]}
    body = ndjson(cdr(world, "c-1")) + "\n" + ndjson(cdr(world, "c-2", dst="abc"), cdr(world, "c-3", sip_code=1))
    response = api_for(operator_user).post(URL, body, content_type="application/x-ndjson")
    assert response.json() == {"detail": "2 lines have errors; nothing was written.", "new": 0, "duplicates": 0,
                               "errors": [{"line": 3, "field": "dst", "message": "dst must be 1 to 128 digits."},
                                          {"line": 4, "field": "sip_code",
                                           "message": "sip_code must be a SIP code from 100 to 699."}]}
    assert Cdr.objects.count() == 0


def test_the_api_refuses_what_is_not_cdr_lines(world, operator_user, api_for) -> None:
    client = api_for(operator_user)
    response = client.post(URL, "", content_type="application/x-ndjson")
    assert (response.status_code, response.json()) == (
        400, {"detail": "The body holds no CDR: send one JSON object a line.", "errors": {}})
    response = client.post(URL, "[1]\n", content_type="application/x-ndjson")
    assert response.json()["errors"] == [{"line": 1, "field": "", "message": "A line must be a JSON object."}]
    response = client.post(URL, b"\xff\xfe", content_type="application/x-ndjson")
    assert (response.status_code, response.json()) == (
        400, {"detail": "The body is not UTF-8 text (byte 0).", "errors": {}})
    assert client.post(URL, {"call_id": "x"}, format="json").status_code == 415


def test_the_api_refuses_json_nested_too_deeply_or_with_a_lone_surrogate(world, operator_user, api_for) -> None:
    client = api_for(operator_user)
    before = balance(world)
    good = json.dumps(cdr(world, "ok-1"))
    surrogate = json.dumps({**cdr(world, "ok-2"), "cli": "\ud800"})  # json.dumps writes the escape \ud800
    body = "\n".join([good, "[" * 100_000 + "]" * 100_000, surrogate, json.dumps({**cdr(world, "ok-3"), "\udfff": 1}),
                      json.dumps({**cdr(world, "ok-4"), "node": "\U0001f600"})])  # a whole pair is a character
    response = client.post(URL, body, content_type="application/x-ndjson")
    surrogate_error = "Not valid JSON: a \\u escape names half of a surrogate pair, no character."
    assert (response.status_code, response.json()) == (400, {
        "detail": "3 lines have errors; nothing was written.", "new": 0, "duplicates": 0, "errors": [
            {"line": 2, "field": "", "message": "Not valid JSON: nested too deeply."},
            {"line": 3, "field": "", "message": surrogate_error},
            {"line": 4, "field": "", "message": surrogate_error}]})
    assert (Cdr.objects.count(), LedgerEntry.objects.count(), balance(world)) == (0, 0, before)


def test_the_api_bounds_the_body(world, operator_user, api_for, monkeypatch) -> None:
    from trunkline.cdrs.api import ingest as api

    client = api_for(operator_user)
    too_large = {"detail": api.TOO_LARGE, "errors": {}}
    response = client.post(URL, "\n" * 20_001, content_type="application/x-ndjson")
    assert (response.status_code, response.json()) == (413, too_large)
    monkeypatch.setattr(api, "MAX_BYTES", 1000)
    response = client.post(URL, ndjson(*(cdr(world, f"c-{n}") for n in range(5))), content_type="text/plain")
    assert (response.status_code, response.json()) == (413, too_large)
    assert Cdr.objects.count() == 0
    assert api.TOO_LARGE == ("Send at most 10 MB and 20,000 lines a request; split the file and send the parts one "
                             "after the other (a line sent twice is counted as a duplicate, never charged twice).")


def test_a_viewer_may_not_ingest(world, viewer_user, api_for) -> None:
    response = api_for(viewer_user).post(URL, ndjson(cdr(world, "c-1")), content_type="application/x-ndjson")
    assert (response.status_code, response.json()) == (
        403, {"detail": "Your role does not allow this change.", "errors": {}})
    assert Cdr.objects.count() == 0


#
# The loader's finished calls
#


def spool_call(world: Any, call_id: str, at: float, *, talk: int | None = 60) -> list[dict[str, Any]]:
    customer, route, provider = world.customer.pk, world.route.pk, world.cheap.provider_id
    lines = [attempt(call_id, at, customer=customer, route=route, dst="447911123456", tech_prefix="",
                     providers=[{"provider": provider, "card": world.cheap.pk, "rate": "0.0100",
                                 "gateways": ["198.51.100.7:5060"]}]),
             event("routed", call_id, at + 0.01, provider=provider, gateway="198.51.100.7:5060", branch=0)]
    if talk is None:
        lines.append(event("failed", call_id, at + 2, provider=provider, code=486, reason="Busy Here", final=True))
    else:
        lines += [event("answered", call_id, at + 4, provider=provider),
                  event("ended", call_id, at + 4 + talk, release_reason="Downstream BYE", duration=talk)]
    return lines


def test_finished_calls_get_their_cdr_charged_once_in_the_loaders_batch(world) -> None:
    at = world.t0.timestamp()
    live = spool_call(world, "live-1", at)[:3]  # answered, not ended yet
    write_spool("calls-sw1-100-000001.jsonl", [*spool_call(world, "end-1", at), *spool_call(world, "busy-1", at,
                                                                                             talk=None), *live])
    load_spool()
    cdrs = {row.call_id: row for row in Cdr.objects.all()}
    assert sorted(cdrs) == ["busy-1", "end-1"]
    ended = cdrs["end-1"]
    assert (ended.leg, ended.source, ended.node, ended.start, ended.answer, ended.duration_ms, ended.customer_charge,
            ended.customer_tax, ended.ledger_total, ended.provider_charge, ended.release_reason, ended.sip_code) == (
        "a", "switch", "sw1", world.t0, world.t0 + timedelta(seconds=4), 60_000, Decimal("0.05"),
        Decimal("0.005"), Decimal("0.055"), Decimal("0.01"), "Downstream BYE", 200)
    busy = cdrs["busy-1"]
    assert (busy.answer, busy.ledger_total, busy.sip_code, busy.sip_reason) == (None, Decimal(0), 486, "Busy Here")
    assert balance(world) == Decimal("-0.055")
    # The live call ends; a copy of the first file is loaded again: only the new end is charged.
    write_spool("calls-sw1-100-000001.jsonl", spool_call(world, "live-1", at)[3:], append=True)
    write_spool("calls-sw2-200-000001.jsonl", spool_call(world, "end-1", at))
    load_spool()
    assert Cdr.objects.count() == 3
    assert list(LedgerEntry.objects.values_list("cdr_id", flat=True).order_by("id")) == [
        ended.pk, Cdr.objects.get(call_id="live-1").pk]
    assert balance(world) == Decimal("-0.110")
    assert Rollup.objects.get().attempts == 3


def test_a_redirected_call_waits_for_its_end_or_expiry(world) -> None:
    at = world.t0.timestamp()
    write_spool("calls-sw1-100-000001.jsonl", [attempt("r-1", at, customer=world.customer.pk, route=world.route.pk,
                                                       dst="447911123456", tech_prefix="", transport="udp")])
    load_spool()
    assert Cdr.objects.count() == 0
    write_spool("calls-sw1-100-000001.jsonl", [event("expired", "r-1", at + 1260)], append=True)
    load_spool()
    redirected = Cdr.objects.get()
    assert (redirected.sip_code, redirected.sip_reason, redirected.answer, redirected.ledger_total) == (
        302, "Moved Temporarily", None, Decimal(0))
    assert LedgerEntry.objects.count() == 0


def test_demo_cdrs_are_rated_charged_and_made_once() -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.db.models import Sum

    call_command("demo", stdout=StringIO())
    out = StringIO()
    call_command("demo_cdrs", "--count", "300", stdout=out)
    assert out.getvalue() == "Demo CDRs: 300 new, 0 already there.\n"
    assert Cdr.objects.filter(rating_error="").count() == 300
    assert Cdr.objects.filter(call_id__startswith="demo-").count() == 300
    oldest = Cdr.objects.order_by("start").first().start
    assert timezone.now() - timedelta(days=30) <= oldest
    charged = Cdr.objects.filter(ledger_total__gt=0)
    assert LedgerEntry.objects.filter(kind="charge").count() == charged.count() > 100
    assert (LedgerEntry.objects.filter(kind="charge").aggregate(total=Sum("amount"))["total"]
            == -charged.aggregate(total=Sum("ledger_total"))["total"])
    call_command("demo_cdrs", "--count", "300", stdout=out)
    assert out.getvalue().endswith("Demo CDRs: 0 new, 300 already there.\n")
    call_command("demo_cdrs", "--if-empty", stdout=out)
    assert out.getvalue().endswith("CDRs exist already; no demo CDRs made.\n")
