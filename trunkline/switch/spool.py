"""The switch's call spool: the lines of trunkline.contracts.calls, appended where the worker's loader reads them.

`FileSpool` keeps the lines of a loop tick in memory and writes them with one write() at `flush()` to
`$TRUNKLINE_VAR_DIR/spool/calls-<node>-<pid>-<seq>.jsonl`, opened O_APPEND, moving to the next sequence number
at 16 MiB. Durability: a line is in the kernel's page cache once flush() returns, so it survives a kill -9 of
the switch (the kernel writes it out), not a power cut or a kernel crash, unless SWITCH_SPOOL_FSYNC=1 makes every
flush fsync(). The engine flushes an `answered` line before it acknowledges the event, so a kill -9 after an
answer never loses it; other lines wait at most one loop tick.

A reader sees a line whole or not at all: `read_spool_lines()` takes only text up to the last "\\n", so a line
being written (or cut by a crash mid-write) is read on a later pass or never. A process never appends to a file
another process or an earlier run left with a partial last line: it opens a fresh sequence number instead.

`RedisSpool` appends the same lines to the stream contracts.calls.SPOOL_STREAM, one entry per line with a single
field `line` (the JSON text), batched in one pipeline per flush.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from trunkline.contracts.balances import STREAM_CURSOR_PREFIX, stream_position
from trunkline.contracts.calls import SPOOL_STREAM

log = logging.getLogger(__name__)

ROTATE_BYTES = 16 * 2**20
# Stream entries kept (approximately): a bound on Redis memory if the loader stops for long.
STREAM_MAXLEN = 10_000_000
STREAM_FIELD = "line"


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact: a decimal string, never a float
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ASCII: a lone surrogate a client sent as a JSON escape is written escaped, not failing the batch in encode().
_encoder = json.JSONEncoder(separators=(",", ":"), default=_default)


def encode_line(record: Mapping[str, Any]) -> str:
    """One spool line: compact JSON, Decimals as strings, ending with "\\n"."""
    return _encoder.encode(record) + "\n"


class Spool(Protocol):
    """Where the engine's call lines go."""

    # True when flush() makes the lines durable before it returns (a file); False when only aflush() does.
    synchronous: bool

    def append(self, record: Mapping[str, Any]) -> None: ...

    def append_line(self, line: str) -> None:
        """An already encoded line (JSON text ending with "\\n")."""
        ...

    def flush(self) -> None: ...

    async def aflush(self) -> None: ...

    def close(self) -> None: ...

    def position(self) -> tuple[str, int | str] | None:
        """Where the last line written (flushed) ends, as balances.json's charged_through names it: (file name,
        byte offset after it) or ("redis:<stream>", its entry id); None before the first write."""
        ...

    def gone(self, key: str) -> bool:
        """True when the spool file `key` was loaded in full and deleted (a stream is never gone)."""
        ...


def spool_name(node: str, pid: int, seq: int) -> str:
    return f"calls-{node}-{pid}-{seq:06d}.jsonl"


class FileSpool:
    """Lines appended in memory, written per flush in one write() to this process's current spool file."""

    synchronous = True

    def __init__(self, directory: Path | str, node: str, *, rotate_bytes: int = ROTATE_BYTES,
                 fsync: bool | None = None) -> None:
        self.directory = Path(directory)
        self.node = node
        self.rotate_bytes = rotate_bytes
        self.fsync = os.environ.get("SWITCH_SPOOL_FSYNC") == "1" if fsync is None else fsync
        self.pending: list[str] = []
        self._pid = os.getpid()
        self._seq = 0
        self._fd = -1
        self._size = 0
        self.path: Path | None = None

    def append(self, record: Mapping[str, Any]) -> None:
        self.pending.append(encode_line(record))

    def append_line(self, line: str) -> None:
        self.pending.append(line)

    def flush(self) -> None:
        if not self.pending:
            return
        data = "".join(self.pending).encode()
        self.pending.clear()
        if self._fd < 0 or self._pid != os.getpid():
            self._open_next()  # first write, or a forked child: never share the parent's file
        elif self._size and self._size + len(data) > self.rotate_bytes:
            os.close(self._fd)
            self._open_next()
        view = memoryview(data)
        while view:  # a regular file takes it all in one write unless the disk is full
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        if self.fsync:
            os.fsync(self._fd)

    async def aflush(self) -> None:
        self.flush()

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def position(self) -> tuple[str, int | str] | None:
        return None if self.path is None else (self.path.name, self._size)

    def gone(self, key: str) -> bool:
        return not (self.directory / key).exists()

    def _open_next(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._pid != os.getpid():
            self._pid, self._seq = os.getpid(), 0
        while True:
            self._seq += 1
            path = self.directory / spool_name(self.node, self._pid, self._seq)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            size = os.fstat(fd).st_size
            if size == 0:  # a file left by an earlier process with this pid is never appended to
                break
            os.close(fd)
        self._fd, self._size, self.path = fd, 0, path


def read_spool_lines(path: Path | str, offset: int = 0, max_bytes: int | None = None
                     ) -> tuple[list[dict[str, Any]], int]:
    """The whole lines of a spool file from byte `offset`, parsed, and the offset after the last one read.

    A final line without "\\n" is still being written (or was cut by a crash): it is left for a later call, and
    the offset stops before it. `max_bytes` bounds one read (a batch); at least one whole line is returned when
    there is one. A line that is not a JSON object is logged and skipped, so one bad line never stops a loader.
    """
    with open(path, "rb") as file:
        file.seek(offset)
        data = file.read() if max_bytes is None else file.read(max_bytes)
        end = data.rfind(b"\n")
        more = data
        while end < 0 and max_bytes is not None and len(more) == max_bytes:
            more = file.read(max_bytes)  # one line longer than max_bytes: read on to its end
            data += more
            end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    lines: list[dict[str, Any]] = []
    for number, raw in enumerate(data[:end].split(b"\n")):
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if isinstance(line, dict):
            lines.append(line)
        else:
            log.warning("spool %s: line %d after offset %d is not a JSON object; skipped", path, number + 1, offset)
    return lines, offset + end + 1


class RedisSpool:
    """Lines XADDed to the calls stream, one pipeline per flush. flush() sends in the background; aflush() waits."""

    synchronous = False

    def __init__(self, url: str, *, stream: str = SPOOL_STREAM, maxlen: int = STREAM_MAXLEN) -> None:
        import redis.asyncio as redis_asyncio

        self.redis = redis_asyncio.from_url(url, decode_responses=True)
        self.stream = stream
        self.maxlen = maxlen
        self.pending: list[str] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._last: tuple[int, int] = (0, 0)  # the latest entry id written, as a pair

    def position(self) -> tuple[str, int | str] | None:
        if self._last == (0, 0):
            return None
        return f"{STREAM_CURSOR_PREFIX}{self.stream}", f"{self._last[0]}-{self._last[1]}"

    def gone(self, key: str) -> bool:
        return False

    def append(self, record: Mapping[str, Any]) -> None:
        self.pending.append(encode_line(record))

    def append_line(self, line: str) -> None:
        self.pending.append(line)

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("spool: sending a batch to Redis failed (kept for the next flush): %s", task.exception())

    async def _send(self, batch: list[str]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for line in batch:
            pipe.xadd(self.stream, {STREAM_FIELD: line.rstrip("\n")}, maxlen=self.maxlen, approximate=True)
        try:
            ids = await pipe.execute()
        except Exception:
            # Back in front of what came since, for the next flush: a Redis restart loses no line (a batch cut
            # half-way may be added twice; the loader merges lines by call id, idempotently).
            self.pending[:0] = batch
            raise
        if ids:
            self._last = max(self._last, stream_position(str(ids[-1])))

    async def aflush(self) -> None:
        """Everything appended so far is in the stream when this returns."""
        if self.pending:
            batch, self.pending = self.pending, []
            await self._send(batch)
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    def close(self) -> None:
        if self.pending:
            log.error("spool: %d lines not sent to Redis at close (await aflush() first)", len(self.pending))

    async def aclose(self) -> None:
        await self.aflush()
        await self.redis.aclose()
