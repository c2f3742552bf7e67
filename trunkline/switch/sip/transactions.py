"""RFC 3261 §17.2 server transactions for a redirect server, on one timer wheel.

A redirect server answers every request itself and keeps no dialog, so it needs only the server side:

- INVITE (§17.2.1): Proceeding (100 Trying sent, the decision pending) -> Completed (final sent; over UDP it is
  retransmitted at timer G, T1 doubling up to T2, until the ACK comes or timer H, 64*T1, gives up) -> Confirmed
  (the ACK absorbed; timer I, T4, keeps absorbing retransmitted ACKs over UDP) -> Terminated.
- non-INVITE (§17.2.2): Trying -> Completed (final sent; timer J, 64*T1 over UDP, answers retransmitted requests
  with the same final) -> Terminated.

A retransmitted request gets the last response sent again, never a second decision. Over a reliable transport
(TCP) nothing is retransmitted and timers I and J are zero (the transaction ends at once); timer H still runs.

Timers: a transaction has at most one pending deadline at a time (what it means follows from its state), kept on
a wheel of slots `tick` seconds wide. The server calls `tick(now)` from one periodic callback; rescheduling leaves
the old wheel entry behind and `tick` skips it (it compares the slot), so no timer is ever cancelled or searched
for. That costs one list append per deadline instead of a loop.call_later handle per transaction.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
from collections.abc import Hashable
from typing import Protocol

T1 = 0.5  # RTT estimate (RFC 3261 §17.1.1.1)
T2 = 4.0  # longest retransmission interval for a final answer
T4 = 5.0  # how long a message may stay in the network
TIMER_H = 64 * T1  # wait for the ACK
TIMER_J = 64 * T1  # keep a non-INVITE's final for its retransmissions (UDP)
TIMER_I = T4  # keep absorbing ACKs (UDP)
# A decision that never comes back (a Redis that stopped answering) must not keep its transaction forever.
PROCEEDING_LIMIT = 64 * T1
TICK = 0.05  # wheel slot width, seconds: G fires within 50 ms of T1
LOCK_WAIT = 1.0  # seconds a claim waits for the owner table's lock before taking it over

PROCEEDING = 1  # INVITE: 100 sent, no final yet; non-INVITE: "Trying"
COMPLETED = 2  # final sent
CONFIRMED = 3  # INVITE: ACK received
TERMINATED = 4


class Transport(Protocol):
    """What a server transaction sends through: a datagram endpoint (addr given) or a stream (addr None)."""

    def is_closing(self) -> bool: ...


class DatagramTransport(Transport, Protocol):
    def sendto(self, data: bytes, addr: tuple[str, int]) -> None: ...


class StreamTransport(Transport, Protocol):
    def write(self, data: bytes) -> None: ...


class ServerTransaction:
    __slots__ = ("addr", "cancelled", "due", "interval", "invite", "key", "owned", "response", "slot", "state",
                 "stop_at", "tag", "transport")

    def __init__(self, key: Hashable, invite: bool, transport: DatagramTransport | StreamTransport,
                 addr: tuple[str, int] | None) -> None:
        self.key = key
        self.invite = invite
        self.transport = transport
        self.addr = addr  # the packet's source (RFC 3581); None = answer on the stream it came on
        self.state = PROCEEDING
        self.response = b""  # the last response sent: what a retransmitted request gets
        self.due = 0.0  # the pending timer's deadline
        self.slot = -1  # the wheel slot holding the live entry for `due`
        self.interval = T1  # timer G's current interval
        self.stop_at = 0.0  # timer H's deadline while Completed
        self.tag = ""  # the To tag of this transaction's answers ("" until one is made)
        self.cancelled = False  # an INVITE CANCELled before its final: the final becomes 487
        self.owned = 0  # its key's hash when claimed in the shared Owners table (several processes), else 0

    @property
    def reliable(self) -> bool:
        return self.addr is None

    def send(self, data: bytes) -> None:
        transport = self.transport
        if transport.is_closing():  # a TCP peer that left: nothing to answer on
            return
        if self.addr is None:
            transport.write(data)  # type: ignore[union-attr]
        else:
            transport.sendto(data, self.addr)  # type: ignore[union-attr]


class Transactions:
    """The server transactions of one process, keyed by what the SIP server derives from a request."""

    __slots__ = ("_next_slot", "_wheel", "absorbed", "owners", "process", "retransmitted", "table", "timeouts")

    def __init__(self, now: float, owners: Owners | None = None, process: int = 0) -> None:
        self.owners = owners  # an ended transaction this process claimed leaves the shared table
        self.process = process
        self.table: dict[Hashable, ServerTransaction] = {}
        self._wheel: dict[int, list[ServerTransaction]] = {}
        self._next_slot = int(now / TICK)
        self.retransmitted = 0  # finals sent again at timer G
        self.timeouts = 0  # INVITE finals never ACKed (timer H)
        self.absorbed = 0  # ACKs and retransmitted requests answered from the table

    def __len__(self) -> int:
        return len(self.table)

    def get(self, key: Hashable) -> ServerTransaction | None:
        return self.table.get(key)

    def begin(self, key: Hashable, invite: bool, transport: DatagramTransport | StreamTransport,
              addr: tuple[str, int] | None, now: float) -> ServerTransaction:
        transaction = ServerTransaction(key, invite, transport, addr)
        self.table[key] = transaction
        self._schedule(transaction, now + PROCEEDING_LIMIT)
        return transaction

    def provisional(self, transaction: ServerTransaction, data: bytes) -> None:
        transaction.response = data
        transaction.send(data)

    def final(self, transaction: ServerTransaction, data: bytes, now: float) -> None:
        """Send the final answer and start the Completed timers (G and H, or J)."""
        if transaction.state != PROCEEDING:
            return  # a transaction answers once (a CANCEL or a timeout may have ended it meanwhile)
        transaction.response = data
        transaction.state = COMPLETED
        transaction.send(data)
        if transaction.invite:
            transaction.stop_at = now + TIMER_H
            if transaction.reliable:
                self._schedule(transaction, transaction.stop_at)
            else:
                transaction.interval = T1
                self._schedule(transaction, now + T1)
        elif transaction.reliable:
            self._end(transaction)
        else:
            self._schedule(transaction, now + TIMER_J)

    def ack(self, transaction: ServerTransaction, now: float) -> None:
        """The ACK of a final answer: stop retransmitting; keep absorbing ACKs for timer I over UDP."""
        self.absorbed += 1
        if transaction.state != COMPLETED or not transaction.invite:
            return  # a retransmitted ACK (Confirmed) or an ACK before any final: nothing to do
        transaction.state = CONFIRMED
        if transaction.reliable:
            self._end(transaction)
        else:
            self._schedule(transaction, now + TIMER_I)

    def retransmission(self, transaction: ServerTransaction) -> None:
        """A request seen again: answer it with the last response, if there is one yet (§17.2.1, §17.2.2)."""
        self.absorbed += 1
        if transaction.response and transaction.state != CONFIRMED:
            transaction.send(transaction.response)

    def tick(self, now: float) -> None:
        """Fire every timer due by `now`: the one periodic callback of the server calls this."""
        last = int(now / TICK)
        first = self._next_slot
        if last < first:
            return
        wheel = self._wheel
        if last - first > len(wheel):
            slots = sorted(slot for slot in wheel if slot <= last)  # a long stall: visit only filled slots
        else:
            slots = range(first, last + 1)  # type: ignore[assignment]
        self._next_slot = last + 1
        for slot in slots:
            entries = wheel.pop(slot, None)
            if entries is None:
                continue
            for transaction in entries:
                if transaction.slot == slot and transaction.state != TERMINATED:
                    self._fire(transaction, now)

    def _fire(self, transaction: ServerTransaction, now: float) -> None:
        transaction.slot = -1
        if transaction.state == COMPLETED and transaction.invite and not transaction.reliable \
                and now < transaction.stop_at:
            # Timer G: send the final again, doubling the interval up to T2, until timer H. Counted from when it
            # was due, not from the tick that fired it, so the wheel's rounding does not add up.
            self.retransmitted += 1
            transaction.send(transaction.response)
            transaction.interval = min(transaction.interval * 2, T2)
            self._schedule(transaction, min(transaction.due + transaction.interval, transaction.stop_at))
            return
        if transaction.state == COMPLETED and transaction.invite:
            self.timeouts += 1  # timer H: the ACK never came
        self._end(transaction)

    def _schedule(self, transaction: ServerTransaction, at: float) -> None:
        slot = int(at / TICK) + 1  # round up: a timer never fires early
        if slot < self._next_slot:
            slot = self._next_slot
        transaction.due = at
        transaction.slot = slot
        entries = self._wheel.get(slot)
        if entries is None:
            self._wheel[slot] = [transaction]
        else:
            entries.append(transaction)

    def _end(self, transaction: ServerTransaction) -> None:
        transaction.state = TERMINATED
        transaction.slot = -1
        if transaction.owned and self.owners is not None:
            self.owners.release(transaction.owned, self.process)
        if self.table.get(transaction.key) is transaction:
            del self.table[transaction.key]


class Owners:
    """Which process of a switch owns each UDP INVITE transaction: a table in memory shared across the fork.

    Every process reads the same UDP socket, so the ACK or the retransmission of an INVITE may reach a process
    other than the one that answered it. That process looks the transaction's key up here and hands the datagram
    to its owner (server.py's inboxes), which absorbs the ACK or repeats its answer: the final is not sent again
    for 32 s for want of an ACK, and a retransmitted INVITE is not decided twice.

    The table holds live transactions only (the owner clears its entry when the transaction ends), in buckets of
    four entries picked by the key's low bits; an entry is the key's high bits with the owner (+1) in the low
    byte. Only a fifth live transaction in one bucket overwrites one (at 12,000 calls/s with 5 s of life each,
    60,000 live entries in 262,144 buckets: practically never). Python's str hashes agree across the processes:
    they are forked from one interpreter, one hash seed. A claim holds a lock shared by the processes (a POSIX
    semaphore: a userspace atomic when nobody else holds it), so two processes reading two copies of one INVITE at
    the same moment cannot both take it; lookups take no lock.
    """

    __slots__ = ("_lock", "_mask", "_memory", "_view")

    WAYS = 4

    def __init__(self, buckets: int = 1 << 18) -> None:
        if buckets & (buckets - 1):
            raise ValueError("buckets must be a power of two")
        self._memory = mmap.mmap(-1, buckets * self.WAYS * 8)  # anonymous and MAP_SHARED: one table for all
        self._view = memoryview(self._memory).cast("q")
        self._mask = buckets - 1
        self._lock = multiprocessing.get_context("fork").Lock()

    def claim(self, key: int, owner: int) -> int:
        """Take `key` for `owner` unless a process holds it already; the owner after the call."""
        view = self._view
        base = (key & self._mask) << 2
        tag = key >> 8 << 8
        lock = self._lock
        # Held for a microsecond: a second's wait means its holder was killed inside (a semaphore outlives its
        # holder); then go ahead, and the release below hands the lock back to everyone.
        lock.acquire(timeout=LOCK_WAIT)
        try:
            free = -1
            for index in range(base, base + 4):
                entry = view[index]
                if not entry:
                    free = index if free < 0 else free
                elif entry >> 8 << 8 == tag:
                    return (entry & 0xFF) - 1
            # Four live transactions here already: the first loses its entry.
            view[base if free < 0 else free] = tag | (owner + 1)
        finally:
            with contextlib.suppress(ValueError):  # released already by a process that gave up waiting
                lock.release()
        return owner

    def owner(self, key: int) -> int | None:
        view = self._view
        base = (key & self._mask) << 2
        tag = key >> 8 << 8
        for index in range(base, base + 4):
            entry = view[index]
            if entry and entry >> 8 << 8 == tag:
                return (entry & 0xFF) - 1
        return None

    def release(self, key: int, owner: int) -> None:
        view = self._view
        base = (key & self._mask) << 2
        mine = key >> 8 << 8 | (owner + 1)
        for index in range(base, base + 4):
            if view[index] == mine:
                view[index] = 0
                return
