"""The spool loader: exact merges per kind, idempotence, lines out of order, partial lines, file deletion, batches."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from tests.cdrs.helpers import NODE, T0, attempt, event, spool_dir, write_spool
from tests.factories import make_customer
from tests.routing.helpers import make_provider, simulate_world
from trunkline.cdrs.models import CallRecord, SpoolCursor
from trunkline.cdrs.services.loading import load_spool
from trunkline.core import jobs
from trunkline.core.context import change_context

pytestmark = pytest.mark.django_db

GW1 = "198.51.100.7:5060"
GW2 = "198.51.100.8:5060"


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=UTC)


def record_values(call_id: str) -> dict[str, Any]:
    """The record as the merge left it, without the load time (updated_at) and the order-dependent list of line
    digests (`applied` holds the same digests in the order they were loaded)."""
    record = CallRecord.objects.get(call_id=call_id)
    values = model_to_dict(record, exclude=["id", "updated_at", "applied"])
    values["applied"] = sorted(record.applied)
    return values


@pytest.fixture
def world():
    world = simulate_world()
    first, second = make_provider(name="First Telecom"), make_provider(name="Second Telecom")
    return world, first, second


def answered_call(call_id: str, customer: int, route: int, first: int, second: int) -> list[dict[str, Any]]:
    """A call that fails over from the first provider (503) to the second, rings, is answered and hangs up."""
    planned = [{"provider": first, "card": 11, "rate": "0.0100", "gateways": [GW1]},
               {"provider": second, "card": 12, "rate": "0.0200", "gateways": [GW2]}]
    return [
        attempt(call_id, T0, customer=customer, route=route, providers=planned),
        event("routed", call_id, T0 + 0.01, provider=first, gateway=GW1, branch=0),
        event("failed", call_id, T0 + 0.25, provider=first, code=503, reason="Service Unavailable", final=False),
        event("routed", call_id, T0 + 0.26, provider=second, gateway=GW2, branch=1),
        event("early", call_id, T0 + 1.5, provider=second, code=180),
        event("answered", call_id, T0 + 4.0, provider=second, dialog={"h_entry": 1234, "h_id": 5678}),
        event("ended", call_id, T0 + 64.0, release_reason="Downstream BYE", duration=60),
    ]


def expected_answered(world, first, second) -> dict[str, Any]:
    return {
        "call_id": "call-1", "node": NODE, "decided": True, "attempted_at": at(0), "early_at": at(1.5),
        "answered_at": at(4), "ended_at": at(64), "state": "ended", "customer": world.customer.pk,
        "customer_name": "Acme Voice", "auth_kind": "ip", "auth_id": 7, "source_ip": "203.0.113.5",
        "source_port": 5060, "transport": "http", "cli_in": "441234567890", "dst_in": "9#447911123456",
        "cli": "441234567890", "dst": "77447911123456", "pai": "", "tech_prefix": "9#",
        "ingress_route": world.route.pk, "provider": second.pk, "provider_name": "Second Telecom",
        "sip_code": 200, "sip_reason": "OK", "release_reason": "Downstream BYE", "duration": 60, "pdd_ms": 1500,
        "ring_ms": 2500,
        "attempts": [
            {"provider": first.pk, "gateway": GW1, "branch": 0, "code": 503, "reason": "Service Unavailable"},
            {"provider": second.pk, "gateway": GW2, "branch": 1, "code": 200, "reason": "OK"},
        ],
        "planned": [{"provider": first.pk, "card": 11, "rate": "0.0100", "gateways": [GW1]},
                    {"provider": second.pk, "card": 12, "rate": "0.0200", "gateways": [GW2]}],
        "rate": {"card": 3, "prefix": "447", "name": "UK Mobile", "rate": "0.050000", "connection_fee": "0.000000",
                 "grace": 0, "mcd": 6, "pulse": 6},
        "max_duration": 1200, "recording": False, "expires_at": at(1260), "dialog_h_entry": 1234,
        "dialog_h_id": 5678, "end_requested_at": None,
    }


def test_an_answered_call_with_a_failover_is_one_exact_record(world) -> None:
    world, first, second = world
    write_spool("calls-sw1-100-000001.jsonl", answered_call("call-1", world.customer.pk, world.route.pk,
                                                            first.pk, second.pk))
    result = load_spool()
    assert (result.lines, result.skipped, result.created, result.updated, result.batches) == (7, 0, 1, 0, 1)
    values = record_values("call-1")
    assert len(values.pop("applied")) == 7
    assert values == expected_answered(world, first, second)


def test_lines_in_reverse_order_across_two_files_make_the_same_record(world) -> None:
    world, first, second = world
    lines = answered_call("call-1", world.customer.pk, world.route.pk, first.pk, second.pk)
    # The events (reversed) in the file loaded first, the attempt in a later one: every event comes before it.
    write_spool("calls-sw1-100-000001.jsonl", reversed(lines[1:]))
    write_spool("calls-sw1-200-000001.jsonl", lines[:1])
    assert load_spool().lines == 7
    values = record_values("call-1")
    values.pop("applied")
    assert values == expected_answered(world, first, second)


def test_a_record_from_events_alone_holds_what_they_tell_until_the_attempt_comes(world) -> None:
    world, first, second = world
    lines = answered_call("call-1", world.customer.pk, world.route.pk, first.pk, second.pk)
    write_spool("calls-sw1-100-000001.jsonl", [lines[5]])  # only the answer
    load_spool()
    record = CallRecord.objects.get()
    assert (record.decided, record.state, record.attempted_at, record.answered_at, record.customer_id,
            record.pdd_ms, record.sip_code, record.provider_id, record.provider_name) == (
        False, "answered", at(4), at(4), None, None, 200, second.pk, "Second Telecom")
    assert record.attempts == [{"provider": second.pk, "gateway": "", "branch": None, "code": 200, "reason": "OK"}]
    assert not CallRecord.objects.live().exists()  # no expiry known: never a live dialog
    write_spool("calls-sw1-200-000001.jsonl", lines[:5] + lines[6:])
    load_spool()
    values = record_values("call-1")
    values.pop("applied")
    assert values == expected_answered(world, first, second)


def test_a_rejected_attempt() -> None:
    write_spool("calls-sw1-100-000001.jsonl", [attempt("rej-1", code=403, reason="IP Not Authorised")])
    load_spool()
    record = CallRecord.objects.get()
    assert (record.state, record.sip_code, record.sip_reason, record.attempted_at, record.ended_at,
            record.expires_at, record.rate, record.max_duration, record.attempts, record.customer_id) == (
        "rejected", 403, "IP Not Authorised", at(0), at(0), None, None, None, [], None)


def test_a_final_failure_ends_the_call_with_the_last_gateways_answer(world) -> None:
    world, first, second = world
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("busy-1", customer=world.customer.pk),
        event("routed", "busy-1", T0 + 0.1, provider=first.pk, gateway=GW1, branch=0),
        event("failed", "busy-1", T0 + 0.3, provider=first.pk, code=503, reason="Service Unavailable", final=False),
        event("routed", "busy-1", T0 + 0.4, provider=second.pk, gateway=GW2, branch=1),
        event("failed", "busy-1", T0 + 2.0, provider=second.pk, code=486, reason="Busy Here", final=True),
    ])
    load_spool()
    record = CallRecord.objects.get()
    assert (record.state, record.sip_code, record.sip_reason, record.ended_at, record.provider_id,
            record.answered_at, record.duration, record.pdd_ms) == (
        "failed", 486, "Busy Here", at(2), second.pk, None, None, None)
    assert record.attempts == [
        {"provider": first.pk, "gateway": GW1, "branch": 0, "code": 503, "reason": "Service Unavailable"},
        {"provider": second.pk, "gateway": GW2, "branch": 1, "code": 486, "reason": "Busy Here"},
    ]


def test_early_sets_ringing_and_the_post_dial_delay(world) -> None:
    world, first, _ = world
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("ring-1", customer=world.customer.pk),
        event("routed", "ring-1", T0 + 0.1, provider=first.pk, gateway=GW1, branch=0),
        event("early", "ring-1", T0 + 2.25, provider=first.pk, code=183),
        event("early", "ring-1", T0 + 3.0, provider=first.pk, code=180),  # the first provisional counts
    ])
    load_spool()
    record = CallRecord.objects.get()
    assert (record.state, record.early_at, record.pdd_ms, record.ring_ms, record.sip_code) == (
        "ringing", at(2.25), 2250, None, None)


def test_an_ended_line_without_duration_takes_it_from_the_answer_and_end_times() -> None:
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("dur-1"),
        event("answered", "dur-1", T0 + 2.0, provider=None, dialog=None),
        event("ended", "dur-1", T0 + 12.75, release_reason="Upstream BYE", duration=None),
    ])
    load_spool()
    record = CallRecord.objects.get()
    assert (record.state, record.duration, record.release_reason, record.pdd_ms, record.dialog_h_entry,
            record.dialog_h_id) == ("ended", 11, "Upstream BYE", 2000, None, None)


def test_an_end_requested_from_the_panel_is_released_as_mi_termination() -> None:
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("mi-1"), event("answered", "mi-1", T0 + 1, dialog={"h_entry": 1, "h_id": 2}),
        attempt("mi-2"), event("answered", "mi-2", T0 + 1, dialog={"h_entry": 3, "h_id": 4}),
    ])
    load_spool()
    CallRecord.objects.update(end_requested_at=at(30))
    write_spool("calls-sw1-100-000001.jsonl", [
        event("ended", "mi-1", T0 + 31, duration=30),  # the edge gave no reason
        event("ended", "mi-2", T0 + 31, duration=30, release_reason="Downstream BYE"),
    ], append=True)
    load_spool()
    assert dict(CallRecord.objects.values_list("call_id", "release_reason")) == {
        "mi-1": "MI Termination", "mi-2": "Downstream BYE"}


def test_expired_lets_a_live_call_go_and_a_later_end_still_wins() -> None:
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("exp-1"), event("expired", "exp-1", T0 + 1260),
        attempt("exp-2"), event("answered", "exp-2", T0 + 1), event("ended", "exp-2", T0 + 5, duration=4),
        event("expired", "exp-2", T0 + 1260),
    ])
    load_spool()
    assert dict(CallRecord.objects.values_list("call_id", "state")) == {"exp-1": "expired", "exp-2": "ended"}


def test_the_same_file_loaded_twice_changes_nothing(world) -> None:
    world, first, second = world
    path = write_spool("calls-sw1-100-000001.jsonl", answered_call("call-1", world.customer.pk, world.route.pk,
                                                                   first.pk, second.pk))
    load_spool()
    before = record_values("call-1")
    # The same lines under another process's name (a Redis stream replayed, a file copied back).
    shutil.copy(path, spool_dir() / "calls-sw1-300-000001.jsonl")
    result = load_spool()
    assert (result.lines, result.created, result.updated) == (7, 0, 0)
    assert CallRecord.objects.count() == 1
    assert record_values("call-1") == before


def test_a_batch_applied_again_after_its_cursor_is_rolled_back_is_the_same(world) -> None:
    world, first, second = world
    path = write_spool("calls-sw1-100-000001.jsonl", answered_call("call-1", world.customer.pk, world.route.pk,
                                                                   first.pk, second.pk))
    load_spool()
    before = record_values("call-1")
    assert SpoolCursor.objects.get().offset == path.stat().st_size
    SpoolCursor.objects.update(offset=0)  # as if the worker died after the merge and before the cursor's commit
    result = load_spool()
    assert (result.lines, result.created, result.updated) == (7, 0, 0)
    assert record_values("call-1") == before


def test_a_partial_last_line_waits_for_its_end() -> None:
    ended = '{"v":1,"kind":"ended","call_id":"part-1","node":"sw1","at":1796000010.0,"release_reason":"Downstream BYE"'
    path = write_spool("calls-sw1-100-000001.jsonl",
                       [attempt("part-1"), event("answered", "part-1", T0 + 2)], tail=ended)
    result = load_spool()
    assert result.lines == 2
    assert SpoolCursor.objects.get().offset == path.stat().st_size - len(ended)
    assert CallRecord.objects.get().state == "answered"
    with path.open("a") as handle:
        handle.write(',"duration":8}\n')
    result = load_spool()
    assert result.lines == 1
    record = CallRecord.objects.get()
    assert (record.state, record.duration, record.release_reason) == ("ended", 8, "Downstream BYE")
    assert SpoolCursor.objects.get().offset == path.stat().st_size


def test_a_fully_loaded_file_is_deleted_once_its_process_writes_a_newer_one() -> None:
    older = write_spool("calls-sw1-100-000001.jsonl", [attempt("a-1")])
    newest = write_spool("calls-sw1-100-000002.jsonl", [attempt("a-2")])
    other = write_spool("calls-sw-east-2-200-000001.jsonl", [attempt("b-1")])
    cut = write_spool("calls-sw1-300-000001.jsonl", [attempt("c-1")], tail='{"v":1,"kind":"ended"')
    write_spool("calls-sw1-300-000002.jsonl", [attempt("c-2")])
    result = load_spool()
    assert result.deleted == ["calls-sw1-100-000001.jsonl"]
    assert not older.exists()
    assert newest.exists() and other.exists() and cut.exists()  # newest of its process; a line still unfinished
    assert sorted(SpoolCursor.objects.values_list("file", flat=True)) == [
        "calls-sw-east-2-200-000001.jsonl", "calls-sw1-100-000002.jsonl", "calls-sw1-300-000001.jsonl",
        "calls-sw1-300-000002.jsonl"]
    assert sorted(CallRecord.objects.values_list("call_id", flat=True)) == ["a-1", "a-2", "b-1", "c-1", "c-2"]


def test_eight_thousand_lines_load_in_batches_not_a_query_per_line(django_assert_max_num_queries) -> None:
    customer = make_customer()
    lines = []
    for number in range(4000):
        call_id = f"bulk-{number:05d}"
        lines.append(attempt(call_id, T0 + number, customer=customer.pk))
        lines.append(event("routed", call_id, T0 + number + 0.1, provider=None, gateway=GW1, branch=0))
    path = write_spool("calls-sw1-100-000001.jsonl", lines)
    # Two batches: the second starts mid-file, some calls' routed lines after their attempt's batch.
    # Bulk statements, bounded by SQLite's 999 variables a statement (about 22 rows of 40 columns each): about 190
    # queries on SQLite and 20 on PostgreSQL for 8,000 lines, never one per line.
    with django_assert_max_num_queries(200):
        result = load_spool(batch_bytes=path.stat().st_size // 2 + 1)
    assert (result.lines, result.batches, result.skipped) == (8000, 2, 0)
    assert result.created == 4000
    assert CallRecord.objects.count() == 4000
    assert CallRecord.objects.filter(customer=customer, customer_name=customer.name).count() == 4000
    assert all(len(attempts) == 1 for attempts in CallRecord.objects.values_list("attempts", flat=True))
    assert SpoolCursor.objects.get().offset == path.stat().st_size


def test_lines_that_are_not_call_events_are_skipped_and_loading_goes_on() -> None:
    path = write_spool("calls-sw1-100-000001.jsonl", [
        {"v": 2, "kind": "attempt", "call_id": "new-version", "node": NODE, "at": T0},
        {"v": 1, "kind": "transferred", "call_id": "x", "node": NODE, "at": T0},
        {"v": 1, "kind": "ended", "call_id": "no-time", "node": NODE},
        attempt("good-1", customer=999_999, route=999_999, cli="44\u0000123"),
    ])
    with path.open("a") as handle:
        handle.write("this is not json\n")
    result = load_spool()
    assert (result.lines, result.skipped) == (1, 3)
    record = CallRecord.objects.get()
    # A customer or route deleted since the decision: the record keeps no link to it.
    assert (record.call_id, record.customer_id, record.ingress_route_id, record.cli) == ("good-1", None, None,
                                                                                        "44123")
    assert SpoolCursor.objects.get().offset == path.stat().st_size


def test_a_deleted_customer_leaves_its_records_with_its_name() -> None:
    customer = make_customer(name="Gone Ltd")
    write_spool("calls-sw1-100-000001.jsonl", [attempt("gone-1", customer=customer.pk)])
    load_spool()
    with change_context(source="test"):
        customer.delete()
    record = CallRecord.objects.get()
    assert (record.customer_id, record.customer_name) == (None, "Gone Ltd")


def test_the_worker_loads_the_spool_between_jobs() -> None:
    write_spool("calls-sw1-100-000001.jsonl", [attempt("w-1")])
    jobs._periodic_last.clear()
    jobs.run_worker(stopping=lambda: False, iterations=1, sleep=lambda seconds: None)
    assert list(CallRecord.objects.values_list("call_id", flat=True)) == ["w-1"]


def test_load_calls_command() -> None:
    write_spool("calls-sw1-100-000001.jsonl", [attempt("cmd-1"), event("answered", "cmd-1", T0 + 1)])
    write_spool("calls-sw1-100-000002.jsonl", [attempt("cmd-2")])
    out = StringIO()
    call_command("load_calls", stdout=out)
    assert out.getvalue() == ("Loaded 3 lines in 2 batches: 2 records created, 0 updated, 0 skipped; "
                              "deleted calls-sw1-100-000001.jsonl.\n")
    out = StringIO()
    call_command("load_calls", stdout=out)
    assert out.getvalue() == "Loaded 0 lines in 0 batches: 0 records created, 0 updated, 0 skipped.\n"


def test_the_redis_stream_is_loaded_once_and_trimmed_behind_its_cursor() -> None:
    import redis

    from tests.switch.redis_helpers import redis_url_or_skip, unique_prefix
    from trunkline.cdrs.services.loading import load_stream
    from trunkline.switch.spool import STREAM_FIELD, encode_line

    url = redis_url_or_skip()
    stream = f"{unique_prefix()}:calls"
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        for line in [attempt("r-1"), event("answered", "r-1", T0 + 2), attempt("r-2"), attempt("r-3")]:
            client.xadd(stream, {STREAM_FIELD: encode_line(line).rstrip("\n")})
        client.xadd(stream, {STREAM_FIELD: "not json"})
        result = load_stream(url, stream=stream, batch=2)
        assert (result.lines, result.skipped, result.batches, result.created, result.updated) == (4, 1, 3, 3, 0)
        assert dict(CallRecord.objects.values_list("call_id", "state")) == {
            "r-1": "answered", "r-2": "routed", "r-3": "routed"}
        last = client.xrange(stream)[-1][0]
        assert client.xlen(stream) == 1  # only the entry under the cursor is left
        client.xadd(stream, {STREAM_FIELD: encode_line(event("ended", "r-1", T0 + 9, duration=7)).rstrip("\n")})
        result = load_stream(url, stream=stream)
        assert (result.lines, result.created, result.updated) == (1, 0, 1)
        assert CallRecord.objects.get(call_id="r-1").duration == 7
        assert SpoolCursor.objects.get(file=f"redis:{stream}").offset > 0
        assert last != client.xrange(stream)[-1][0]
        assert load_stream(url, stream=stream).lines == 0
    finally:
        client.delete(stream)
        client.close()


def test_a_process_that_reuses_an_old_pid_keeps_its_new_file(tmp_path) -> None:
    import os

    old = write_spool("calls-sw1-100-000003.jsonl", [attempt("old-1")])
    os.utime(old, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))  # written by an earlier run
    new = write_spool("calls-sw1-100-000001.jsonl", [attempt("new-1")])  # this run starts again at 1
    result = load_spool()
    assert result.deleted == ["calls-sw1-100-000003.jsonl"]
    assert new.exists() and not old.exists()
    write_spool("calls-sw1-100-000001.jsonl", [attempt("new-2")], append=True)
    assert load_spool().lines == 1
    assert sorted(CallRecord.objects.values_list("call_id", flat=True)) == ["new-1", "new-2", "old-1"]


def _database_url() -> str:
    """The URL of the test database, for a loader run in its own process."""
    from django.db import connection

    data = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{data['NAME']}"
    credentials = data["USER"] + (f":{data['PASSWORD']}" if data["PASSWORD"] else "")
    return f"postgresql://{credentials}@{data['HOST'] or '127.0.0.1'}:{data['PORT'] or 5432}/{data['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_loader_killed_mid_file_loses_and_doubles_nothing(settings) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    lines = []
    for number in range(3000):
        call_id = f"kill-{number:05d}"
        lines += [attempt(call_id, T0 + number), event("answered", call_id, T0 + number + 1),
                  event("ended", call_id, T0 + number + 11, release_reason="Downstream BYE", duration=10)]
    path = write_spool("calls-sw1-100-000001.jsonl", lines)
    env = {**os.environ, "DATABASE_URL": _database_url(), "TRUNKLINE_VAR_DIR": str(settings.VAR_DIR)}
    loader = subprocess.Popen([str(Path(sys.executable).with_name("trunkline")), "load_calls", "--batch-bytes",
                               "4000"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Killed once some batches are in: wherever it stood, its batch in hand was not committed.
        while not SpoolCursor.objects.filter(offset__gt=0).exists():
            assert loader.poll() is None, loader.stderr.read() if loader.stderr else ""
            time.sleep(0.01)
        loader.send_signal(signal.SIGKILL)
    finally:
        loader.wait()
    offset = SpoolCursor.objects.get().offset
    assert 0 < offset < path.stat().st_size  # it stopped mid-file
    loaded = path.read_bytes()[:offset]
    assert loaded.endswith(b"\n")
    # What the cursor covers is in, exactly: every call whose end is before it is ended.
    ended_before = loaded.count(b'"kind":"ended"')
    assert CallRecord.objects.filter(state="ended").count() == ended_before
    result = load_spool()
    assert result.lines == 9000 - loaded.count(b"\n")
    assert CallRecord.objects.count() == 3000
    assert CallRecord.objects.filter(state="ended", duration=10, release_reason="Downstream BYE").count() == 3000
    assert all(len(applied) == 3 for applied in CallRecord.objects.values_list("applied", flat=True))


def test_an_answer_that_names_no_provider_answers_the_pending_gateway(world) -> None:
    world, first, _ = world
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("anon-1", customer=world.customer.pk),
        event("routed", "anon-1", T0 + 0.1, provider=first.pk, gateway=GW1, branch=0),
        event("answered", "anon-1", T0 + 2, provider=None, dialog={"h_entry": 8, "h_id": 9}),
    ])
    load_spool()
    record = CallRecord.objects.get()
    assert record.attempts == [{"provider": first.pk, "gateway": GW1, "branch": 0, "code": 200, "reason": "OK"}]
    assert (record.provider_id, record.provider_name) == (first.pk, "First Telecom")


@pytest.mark.parametrize("attempt_first", [True, False])
def test_events_from_a_process_that_did_not_route_the_call_get_their_provider_from_the_gateway(
        world, attempt_first: bool) -> None:
    world, first, second = world
    planned = [{"provider": first.pk, "card": 11, "rate": "0.0100", "gateways": [GW1]},
               {"provider": second.pk, "card": 12, "rate": "0.0200", "gateways": [GW2.upper()]}]
    head = [attempt("far-1", customer=world.customer.pk, providers=planned)]
    # With --processes N the edge's events land on any process: one that did not route the call names the
    # gateway it was sent to, not the provider or the branch.
    tail = [
        event("routed", "far-1", T0 + 0.1, provider=None, gateway=GW1, branch=None),
        event("failed", "far-1", T0 + 0.2, provider=None, code=503, reason="Service Unavailable", final=False),
        event("routed", "far-1", T0 + 0.3, provider=None, gateway=GW2, branch=None),
        event("answered", "far-1", T0 + 2, provider=None, dialog={"h_entry": 8, "h_id": 9}),
        event("ended", "far-1", T0 + 12, release_reason="Upstream BYE", duration=10),
    ]
    if attempt_first:
        write_spool("calls-sw1-100-000001.jsonl", head + tail)
    else:
        write_spool("calls-sw1-100-000001.jsonl", tail)
        load_spool()
        assert CallRecord.objects.get().provider_id is None  # nothing planned yet to find the gateway in
        write_spool("calls-sw1-200-000001.jsonl", head)
    load_spool()
    record = CallRecord.objects.get()
    assert record.attempts == [
        {"provider": first.pk, "gateway": GW1, "branch": 0, "code": 503, "reason": "Service Unavailable"},
        {"provider": second.pk, "gateway": GW2, "branch": 1, "code": 200, "reason": "OK"}]
    assert (record.state, record.provider_id, record.provider_name, record.duration, record.release_reason) == (
        "ended", second.pk, "Second Telecom", 10, "Upstream BYE")


def test_a_call_the_redirect_server_answered_is_redirected_with_its_302_and_not_a_live_dialog(world) -> None:
    world, _, _ = world
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("sip-1", customer=world.customer.pk, transport="udp", expires_at=time.time() + 600),
        attempt("sip-2", customer=world.customer.pk, transport="tcp", expires_at=time.time() + 600),
    ])

    load_spool()

    assert sorted(CallRecord.objects.values_list("call_id", "state", "sip_code", "sip_reason")) == [
        ("sip-1", "redirected", 302, "Moved Temporarily"), ("sip-2", "redirected", 302, "Moved Temporarily")]
    assert CallRecord.objects.live().count() == 0


def test_a_redirected_call_whose_edge_reports_its_answer_is_live(world) -> None:
    world, first, _ = world
    write_spool("calls-sw1-100-000001.jsonl", [
        attempt("sip-3", customer=world.customer.pk, transport="udp", expires_at=time.time() + 600),
        event("answered", "sip-3", T0 + 4, provider=first.pk, dialog=None),
    ])

    load_spool()

    record = CallRecord.objects.get()
    assert (record.state, record.sip_code, record.sip_reason) == ("answered", 200, "OK")
    assert list(CallRecord.objects.live()) == [record]
