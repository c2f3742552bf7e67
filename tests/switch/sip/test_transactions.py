"""RFC 3261 §17.2 server transactions (trunkline.switch.sip.transactions) on their timer wheel.

The wheel is driven here as the server drives it, by tick(now), with the times given explicitly: what is sent at
which tick is then exact. The transports record what the transactions send through them.
"""

from __future__ import annotations

import os

from trunkline.switch.sip.transactions import (
    COMPLETED,
    CONFIRMED,
    PROCEEDING,
    TERMINATED,
    TICK,
    Owners,
    Transactions,
)

PEER = ("192.0.2.1", 5060)


class Datagrams:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))


class Stream:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.sent.append(data)


def run_ticks(table: Transactions, start: float, end: float, transport: Datagrams) -> list[float]:
    """Tick every 10 ms from start to end; the times at which something was sent."""
    sent_at: list[float] = []
    steps = round((end - start) / 0.01)
    for step in range(steps + 1):
        now = round(start + step * 0.01, 2)
        before = len(transport.sent)
        table.tick(now)
        sent_at.extend([now] * (len(transport.sent) - before))
    return sent_at


def test_an_invite_final_is_sent_again_at_timer_g_doubling_to_t2_until_timer_h() -> None:
    udp = Datagrams()
    table = Transactions(0.0)
    transaction = table.begin("k", True, udp, PEER, 0.0)
    table.provisional(transaction, b"100")
    table.final(transaction, b"302", 0.0)
    assert transaction.state == COMPLETED and udp.sent == [(b"100", PEER), (b"302", PEER)]
    sent_at = run_ticks(table, 0.0, 40.0, udp)
    # Due at 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s up to 31.5; each fires at the first tick past its slot.
    due = [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert len(sent_at) == len(due) == table.retransmitted == 10
    assert all(at < fired <= at + 2 * TICK for at, fired in zip(due, sent_at, strict=True))
    assert all(data == b"302" for data, _ in udp.sent[2:])
    assert table.timeouts == 1 and transaction.state == TERMINATED and len(table) == 0


def test_the_ack_stops_the_retransmissions_and_timer_i_keeps_absorbing_acks() -> None:
    udp = Datagrams()
    table = Transactions(0.0)
    transaction = table.begin("k", True, udp, PEER, 0.0)
    table.final(transaction, b"302", 0.0)
    assert run_ticks(table, 0.0, 0.7, udp) == [0.55]  # one retransmission (timer G at 0.5)
    table.ack(transaction, 0.7)
    assert transaction.state == CONFIRMED
    table.ack(transaction, 1.0)  # a retransmitted ACK: absorbed, nothing sent
    table.retransmission(transaction)  # a late retransmitted INVITE in Confirmed: nothing sent either
    assert run_ticks(table, 0.71, 5.6, udp) == []
    assert transaction.state == CONFIRMED and table.get("k") is transaction
    run_ticks(table, 5.61, 5.8, udp)  # timer I: T4 = 5 s after the ACK
    assert transaction.state == TERMINATED and table.get("k") is None
    assert len(udp.sent) == 2 and table.retransmitted == 1 and table.timeouts == 0 and table.absorbed == 3


def test_a_retransmitted_request_gets_the_last_response_sent() -> None:
    udp = Datagrams()
    table = Transactions(0.0)
    transaction = table.begin("k", True, udp, PEER, 0.0)
    table.retransmission(transaction)  # nothing sent yet: nothing to repeat
    assert udp.sent == []
    table.provisional(transaction, b"100")
    table.retransmission(transaction)
    assert [data for data, _ in udp.sent] == [b"100", b"100"]
    table.final(transaction, b"503", 0.1)
    table.retransmission(transaction)
    assert [data for data, _ in udp.sent] == [b"100", b"100", b"503", b"503"]
    table.final(transaction, b"302", 0.2)  # a transaction answers once
    assert [data for data, _ in udp.sent][-1] == b"503" and transaction.response == b"503"


def test_over_tcp_nothing_is_retransmitted_and_timer_h_still_ends_an_unacked_invite() -> None:
    tcp = Stream()
    table = Transactions(0.0)
    transaction = table.begin("k", True, tcp, None, 0.0)
    table.final(transaction, b"302", 0.0)
    for step in range(1, 3300):
        table.tick(step * 0.01)
    assert tcp.sent == [b"302"] and table.retransmitted == 0
    assert table.timeouts == 1 and transaction.state == TERMINATED and len(table) == 0


def test_over_tcp_the_ack_ends_the_transaction_at_once() -> None:
    tcp = Stream()
    table = Transactions(0.0)
    transaction = table.begin("k", True, tcp, None, 0.0)
    table.final(transaction, b"302", 0.0)
    table.ack(transaction, 0.1)
    assert transaction.state == TERMINATED and len(table) == 0 and tcp.sent == [b"302"]


def test_a_non_invite_keeps_its_final_for_timer_j_over_udp_and_ends_at_once_over_tcp() -> None:
    udp = Datagrams()
    table = Transactions(0.0)
    options = table.begin("options", False, udp, PEER, 0.0)
    table.final(options, b"200", 0.0)
    assert run_ticks(table, 0.0, 31.9, udp) == []  # a non-INVITE final is never retransmitted by itself
    table.retransmission(options)
    assert [data for data, _ in udp.sent] == [b"200", b"200"]
    run_ticks(table, 31.91, 32.1, udp)
    assert options.state == TERMINATED and len(table) == 0
    tcp = Stream()
    cancel = table.begin("cancel", False, tcp, None, 40.0)
    table.final(cancel, b"200", 40.0)
    assert cancel.state == TERMINATED and len(table) == 0 and tcp.sent == [b"200"]


def test_a_decision_that_never_comes_ends_its_transaction_after_64_t1() -> None:
    udp = Datagrams()
    table = Transactions(0.0)
    transaction = table.begin("k", True, udp, PEER, 0.0)
    table.provisional(transaction, b"100")
    for step in range(1, 3190):
        table.tick(step * 0.01)
    assert transaction.state == PROCEEDING and len(table) == 1
    table.tick(32.1)
    assert transaction.state == TERMINATED and len(table) == 0 and table.timeouts == 0
    table.final(transaction, b"302", 32.2)  # the late answer goes nowhere
    assert udp.sent == [(b"100", PEER)]


def test_a_stalled_loop_fires_what_is_due_in_one_pass() -> None:
    udp = Datagrams()
    table = Transactions(0.0)
    finished = [table.begin(n, False, udp, PEER, 0.0) for n in range(100)]
    for transaction in finished:
        table.final(transaction, b"200", 0.0)
    invite = table.begin("invite", True, udp, PEER, 0.0)
    table.final(invite, b"302", 0.0)
    table.tick(1000.0)  # 20,000 slots later: only the filled ones are visited
    assert len(table) == 0 and all(transaction.state == TERMINATED for transaction in finished)
    assert table.timeouts == 1 and table.retransmitted == 0  # past timer H: ended, not retransmitted 10 times


def test_a_closed_stream_gets_nothing_written() -> None:
    tcp = Stream()
    table = Transactions(0.0)
    transaction = table.begin("k", True, tcp, None, 0.0)
    tcp.closing = True
    table.final(transaction, b"302", 0.0)
    assert tcp.sent == [] and transaction.state == COMPLETED


# --- the shared owner table of several processes ---------------------------------------------------------------


def test_an_owner_is_found_by_its_key_until_it_lets_go() -> None:
    owners = Owners(buckets=16)
    key = hash(("z9hG4bK-1", "INVITE", PEER))
    assert owners.owner(key) is None
    assert owners.claim(key, 3) == 3
    assert owners.owner(key) == 3 and owners.claim(key, 2) == 3  # taken: the other process hands it over
    owners.release(key, 2)  # not the owner: nothing changes
    assert owners.owner(key) == 3
    owners.release(key, 3)
    assert owners.owner(key) is None


def test_a_full_bucket_gives_up_its_first_entry_and_keys_in_it_stay_apart() -> None:
    owners = Owners(buckets=16)
    keys = [bucket_mate << 8 | 5 for bucket_mate in range(1, 6)]  # low bits 5: all in bucket 5, other high bits
    assert [owners.claim(key, number) for number, key in enumerate(keys[:4])] == [0, 1, 2, 3]
    assert [owners.owner(key) for key in keys] == [0, 1, 2, 3, None]
    assert owners.claim(keys[4], 4) == 4
    assert [owners.owner(key) for key in keys] == [None, 1, 2, 3, 4]
    owners.release(keys[2], 2)
    assert owners.claim(keys[0], 0) == 0  # the freed entry is taken again
    assert [owners.owner(key) for key in keys] == [0, 1, None, 3, 4]


def test_a_claim_made_in_a_forked_process_is_seen_by_the_others() -> None:
    owners = Owners(buckets=1024)
    key = hash(("z9hG4bK-forked", "INVITE", PEER))
    pid = os.fork()
    if pid == 0:  # the child claims and leaves at once
        os._exit(0 if owners.claim(key, 1) == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert status == 0 and owners.owner(key) == 1 and owners.claim(key, 0) == 1


def test_an_ended_transaction_leaves_the_owner_table() -> None:
    udp = Datagrams()
    owners = Owners(buckets=16)
    table = Transactions(0.0, owners, 1)
    key = ("z9hG4bK-2", "INVITE", PEER)
    owners.claim(hash(key), 1)
    transaction = table.begin(key, True, udp, PEER, 0.0)
    transaction.owned = hash(key)
    table.final(transaction, b"302", 0.0)
    table.ack(transaction, 0.1)
    assert owners.owner(hash(key)) == 1
    run_ticks(table, 0.2, 5.3, udp)  # timer I
    assert transaction.state == TERMINATED and owners.owner(hash(key)) is None


def test_a_lock_left_held_by_a_killed_process_is_taken_over() -> None:
    owners = Owners(buckets=16)
    pid = os.fork()
    if pid == 0:  # dies holding the lock, as a process SIGKILLed inside claim() would
        owners._lock.acquire()
        os._exit(0)
    os.waitpid(pid, 0)
    key = hash(("z9hG4bK-3", "INVITE", PEER))
    assert owners.claim(key, 1) == 1  # after LOCK_WAIT
    assert owners._lock.acquire(timeout=0.1)  # and the lock works again
    owners._lock.release()
