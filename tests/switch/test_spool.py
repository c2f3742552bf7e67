"""The call spool: lines written whole per flush, rotation, readers never see half a line, the Redis stream."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.switch.redis_helpers import redis_url_or_skip
from trunkline.switch.spool import (
    STREAM_FIELD,
    FileSpool,
    encode_line,
    read_spool_lines,
    spool_name,
)


def _files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_lines_are_written_at_flush_only_in_one_file_named_by_node_pid_and_sequence(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool", "node-a")
    spool.append({"v": 1, "kind": "attempt", "call_id": "c1", "reserve": Decimal("0.010000"), "rate": None})
    spool.append_line('{"v":1,"kind":"ended","call_id":"c1"}\n')
    assert not (tmp_path / "spool").exists()  # nothing written before the flush
    spool.flush()
    name = spool_name("node-a", os.getpid(), 1)
    assert name == f"calls-node-a-{os.getpid()}-000001.jsonl"
    assert _files(tmp_path / "spool") == [name]
    text = (tmp_path / "spool" / name).read_text()
    assert text == ('{"v":1,"kind":"attempt","call_id":"c1","reserve":"0.010000","rate":null}\n'
                    '{"v":1,"kind":"ended","call_id":"c1"}\n')
    assert spool.pending == []
    spool.flush()  # nothing pending: nothing written
    assert (tmp_path / "spool" / name).read_text() == text
    spool.append({"call_id": "c2", "cli": "é"})
    spool.append({"call_id": "c3", "reason": "\ud800"})  # a lone surrogate, as a client's JSON may carry
    spool.close()
    lines, offset = read_spool_lines(tmp_path / "spool" / name)
    assert lines == [{"v": 1, "kind": "attempt", "call_id": "c1", "reserve": "0.010000", "rate": None},
                     {"v": 1, "kind": "ended", "call_id": "c1"}, {"call_id": "c2", "cli": "é"},
                     {"call_id": "c3", "reason": "\ud800"}]
    assert offset == len((tmp_path / "spool" / name).read_bytes())


def test_encode_line_is_compact_and_refuses_floats_never(tmp_path: Path) -> None:
    assert encode_line({"a": [1, "x"], "b": Decimal("1.50"), "c": 0.25, "d": True}) == \
        '{"a":[1,"x"],"b":"1.50","c":0.25,"d":true}\n'
    with pytest.raises(TypeError):
        encode_line({"a": object()})


def test_rotation_moves_to_the_next_sequence_before_a_batch_would_pass_the_limit(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path, "n", rotate_bytes=100)
    line = '{"call_id":"' + "x" * 28 + '"}\n'  # 43 bytes
    assert len(line) == 43
    for _ in range(2):
        spool.append_line(line)
    spool.flush()  # 86 bytes in file 1
    spool.append_line(line)
    spool.flush()  # 86 + 43 > 100: file 2
    spool.append_line(line)
    spool.append_line(line)
    spool.append_line(line)
    spool.flush()  # 43 + 129 > 100: file 3, which takes the whole batch though it passes the limit alone
    spool.close()
    pid = os.getpid()
    assert _files(tmp_path) == [spool_name("n", pid, 1), spool_name("n", pid, 2), spool_name("n", pid, 3)]
    assert [len((tmp_path / name).read_bytes()) for name in _files(tmp_path)] == [86, 43, 129]


def test_a_file_left_by_an_earlier_process_with_this_pid_is_never_appended_to(tmp_path: Path) -> None:
    left = tmp_path / spool_name("n", os.getpid(), 1)
    left.write_bytes(b'{"call_id":"old"}\n{"call_id":"cu')  # cut mid-line by a kill -9
    spool = FileSpool(tmp_path, "n")
    spool.append({"call_id": "new"})
    spool.close()
    assert left.read_bytes() == b'{"call_id":"old"}\n{"call_id":"cu'
    assert spool.path == tmp_path / spool_name("n", os.getpid(), 2)
    assert read_spool_lines(spool.path) == ([{"call_id": "new"}], 18)


def test_a_reader_takes_whole_lines_only_and_resumes_from_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "calls-n-1-000001.jsonl"
    path.write_bytes(b'{"call_id":"a"}\n{"call_id":"b"}\n{"call_id":"c"')
    lines, offset = read_spool_lines(path)
    assert lines == [{"call_id": "a"}, {"call_id": "b"}]
    assert offset == 32
    assert read_spool_lines(path, offset) == ([], 32)  # the partial line stays unread
    with open(path, "ab") as file:
        file.write(b'}\n{"call_id":"d"}\n')
    assert read_spool_lines(path, offset) == ([{"call_id": "c"}, {"call_id": "d"}], 64)
    assert read_spool_lines(path, 64) == ([], 64)


def test_a_reader_reads_in_batches_of_at_most_max_bytes_but_never_less_than_a_line(tmp_path: Path) -> None:
    path = tmp_path / "calls-n-1-000001.jsonl"
    path.write_bytes(b'{"call_id":"a"}\n{"call_id":"b"}\n{"call_id":"' + b"c" * 40 + b'"}\n')
    assert read_spool_lines(path, 0, max_bytes=20) == ([{"call_id": "a"}], 16)
    assert read_spool_lines(path, 16, max_bytes=40) == ([{"call_id": "b"}], 32)
    assert read_spool_lines(path, 32, max_bytes=10) == ([{"call_id": "c" * 40}], 87)


def test_a_line_that_is_not_a_json_object_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "calls-n-1-000001.jsonl"
    path.write_bytes(b'{"call_id":"a"}\nnot json\n[1]\n{"call_id":"b"}\n')
    assert read_spool_lines(path) == ([{"call_id": "a"}, {"call_id": "b"}], 45)


def test_fsync_is_taken_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCH_SPOOL_FSYNC", "1")
    assert FileSpool(tmp_path, "n").fsync is True
    monkeypatch.setenv("SWITCH_SPOOL_FSYNC", "0")
    assert FileSpool(tmp_path, "n").fsync is False
    spool = FileSpool(tmp_path, "n", fsync=True)
    spool.append({"call_id": "a"})
    spool.close()
    assert read_spool_lines(spool.path or tmp_path) == ([{"call_id": "a"}], 16)


def test_redis_spool_adds_one_stream_entry_per_line_with_the_line_field() -> None:
    url = redis_url_or_skip()
    from trunkline.switch.spool import RedisSpool

    async def scenario() -> None:
        stream = f"test:calls:{os.getpid()}:{id(object())}"
        spool = RedisSpool(url, stream=stream)
        try:
            spool.append({"v": 1, "kind": "attempt", "call_id": "c1", "reserve": Decimal("0.5")})
            spool.append_line('{"v":1,"kind":"ended","call_id":"c1"}\n')
            assert await spool.redis.xlen(stream) == 0  # nothing sent before a flush
            spool.flush()  # sends in the background
            await spool.aflush()
            entries = await spool.redis.xrange(stream)
            assert [json.loads(fields[STREAM_FIELD]) for _, fields in entries] == [
                {"v": 1, "kind": "attempt", "call_id": "c1", "reserve": "0.5"},
                {"v": 1, "kind": "ended", "call_id": "c1"}]
            assert [list(fields) for _, fields in entries] == [[STREAM_FIELD], [STREAM_FIELD]]
            spool.append({"call_id": "c2"})
            await spool.aflush()
            assert await spool.redis.xlen(stream) == 3
        finally:
            await spool.redis.delete(stream)
            await spool.aclose()

    asyncio.run(scenario())


def test_a_batch_redis_did_not_take_stays_pending_for_the_next_flush() -> None:
    import socket

    from redis.exceptions import ConnectionError as RedisConnectionError

    from trunkline.switch.spool import RedisSpool

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        spool = RedisSpool(f"redis://127.0.0.1:{port}/0")
        spool.append({"call_id": "c1"})
        with pytest.raises(RedisConnectionError):
            await spool.aflush()
        assert spool.pending == ['{"call_id":"c1"}\n']
        spool.flush()  # in the background: fails again, logged, and the line comes back
        spool.append({"call_id": "c2"})
        while spool._sending:
            await asyncio.sleep(0.01)
        assert spool.pending == ['{"call_id":"c1"}\n', '{"call_id":"c2"}\n']
        await spool.redis.aclose()

    asyncio.run(scenario())
