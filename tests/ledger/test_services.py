"""ledger_post, customer_adjust_balance and ledger_refresh_balance: exact balances, nothing written on bad input,
the audit entry of an adjustment, the balances publication queued after commit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind, LedgerEntry
from trunkline.ledger.services import (
    PUBLISH_BALANCES,
    Posting,
    customer_adjust_balance,
    ledger_post,
    ledger_refresh_balance,
)

pytestmark = pytest.mark.django_db


def balance(customer: Customer) -> Decimal:
    return Customer.objects.get(pk=customer.pk).balance


def entries(customer: Customer) -> list[tuple[str, Decimal, Decimal, int | None, str]]:
    return [(entry.kind, entry.amount, entry.balance_after, entry.cdr_id, entry.reference)
            for entry in LedgerEntry.objects.filter(customer=customer).order_by("id")]


def test_a_batch_moves_each_balance_by_its_entries_in_order() -> None:
    first, second = make_customer(balance=Decimal("10")), make_customer()
    charges = [Posting(customer_id=first.pk, kind=EntryKind.CHARGE, amount=Decimal("-0.000001"), cdr_id=1,
                       reference="call a/1"),
               Posting(customer_id=second.pk, kind=EntryKind.CHARGE, amount=Decimal("-2.5"), cdr_id=2),
               Posting(customer_id=first.pk, kind=EntryKind.CHARGE, amount=Decimal("-3.333333"), cdr_id=3),
               Posting(customer_id=first.pk, kind=EntryKind.RERATE, amount=Decimal("0.333334"), cdr_id=3)]
    with transaction.atomic():
        posted = ledger_post(postings=charges)
    assert [entry.balance_after for entry in posted] == [Decimal("9.999999"), Decimal("-2.5"),
                                                         Decimal("6.666666"), Decimal("7.000000")]
    assert all(entry.pk for entry in posted)
    assert balance(first) == Decimal("7.000000")
    assert balance(second) == Decimal("-2.500000")
    assert entries(first) == [
        ("opening", Decimal("10"), Decimal("10"), None, ""),
        ("charge", Decimal("-0.000001"), Decimal("9.999999"), 1, "call a/1"),
        ("charge", Decimal("-3.333333"), Decimal("6.666666"), 3, ""),
        ("rerate", Decimal("0.333334"), Decimal("7.000000"), 3, ""),
    ]


def test_it_runs_a_fixed_number_of_queries_whatever_the_batch_size() -> None:
    customers = [make_customer() for _ in range(3)]
    postings = [Posting(customer_id=customers[n % 3].pk, kind=EntryKind.CHARGE, amount=Decimal("-0.01"), cdr_id=n)
                for n in range(3000)]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        ledger_post(postings=postings)
    kinds = [query["sql"].split()[0] for query in queries.captured_queries]
    # One lock query, the insert, one update a customer. PostgreSQL: the ids in one query, then COPY; SQLite: an
    # INSERT split by its limit on variables per statement.
    if connection.vendor == "postgresql":
        assert kinds == ["SELECT", "SELECT", "COPY", "UPDATE", "UPDATE", "UPDATE"]
        assert queries.captured_queries[0]["sql"].endswith("FOR UPDATE")
        assert "nextval" in queries.captured_queries[1]["sql"]
    else:
        assert kinds == ["SELECT"] + ["INSERT"] * kinds.count("INSERT") + ["UPDATE"] * 3
    assert LedgerEntry.objects.filter(kind="charge").count() == 3000
    assert list(LedgerEntry.objects.order_by("id").values_list("cdr_id", flat=True)) == list(range(3000))
    assert [balance(customer) for customer in customers] == [Decimal("-10.000000")] * 3


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_nothing_is_written() -> None:
    customer = make_customer()
    with pytest.raises(RuntimeError, match=r"^ledger_post\(\) must be called inside transaction.atomic\(\).$"):
        ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.ADJUSTMENT, amount=Decimal("1"))])
    assert LedgerEntry.objects.count() == 0


@pytest.mark.parametrize(("posting", "message"), [
    ({"kind": "gift", "amount": Decimal("1")},
     "Unknown ledger entry kind 'gift'; use one of ['adjustment', 'charge', 'invoice', 'opening', 'package', "
     "'payment', 'rerate']."),
    ({"kind": EntryKind.CHARGE, "amount": Decimal("-0.0000001")},
     "A posting's amount must have at most 6 decimals and be less than 1,000,000,000,000 either way, not -1E-7."),
    ({"kind": EntryKind.CHARGE, "amount": Decimal("1000000000000")},
     "A posting's amount must have at most 6 decimals and be less than 1,000,000,000,000 either way, "
     "not 1000000000000."),
    ({"kind": EntryKind.CHARGE, "amount": Decimal("NaN")}, "A posting's amount must be a finite Decimal, not "
                                                           "Decimal('NaN')."),
    ({"kind": EntryKind.CHARGE, "amount": 1.5}, "A posting's amount must be a finite Decimal, not 1.5."),
])
def test_a_bad_posting_writes_nothing_of_its_batch(posting, message) -> None:
    customer = make_customer(balance=Decimal("5"))
    good = Posting(customer_id=customer.pk, kind=EntryKind.ADJUSTMENT, amount=Decimal("1"))
    with pytest.raises(ValueError) as raised, transaction.atomic():
        ledger_post(postings=[good, Posting(customer_id=customer.pk, **posting)])
    assert str(raised.value) == message
    assert balance(customer) == Decimal("5")
    assert LedgerEntry.objects.filter(customer=customer).count() == 1  # the opening entry only


def test_an_unknown_customer_or_an_overflowing_balance_writes_nothing() -> None:
    customer = make_customer(balance=Decimal("999999999999"))
    with pytest.raises(ValueError, match=r"^No customer with id 987654\.$"), transaction.atomic():
        ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.ADJUSTMENT, amount=Decimal("-1")),
                              Posting(customer_id=987654, kind=EntryKind.ADJUSTMENT, amount=Decimal("1"))])
    with pytest.raises(ValueError) as raised, transaction.atomic():
        ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.ADJUSTMENT, amount=Decimal("1"))])
    assert str(raised.value) == (f"Customer {customer.pk}'s balance would be 1000000000000.000000, beyond what a "
                                 f"balance can hold (less than 1,000,000,000,000 either way).")
    assert balance(customer) == Decimal("999999999999")
    assert LedgerEntry.objects.count() == 1


def test_one_charge_per_cdr_even_across_batches() -> None:
    from django.db import IntegrityError

    customer = make_customer()
    charge = Posting(customer_id=customer.pk, kind=EntryKind.CHARGE, amount=Decimal("-1"), cdr_id=42)
    with transaction.atomic():
        ledger_post(postings=[charge])
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_post(postings=[charge])
    assert balance(customer) == Decimal("-1")
    assert LedgerEntry.objects.filter(cdr_id=42).count() == 1


def test_the_balances_publication_is_queued_after_commit_once_per_transaction(
        django_capture_on_commit_callbacks, publish_handler) -> None:
    customer = make_customer()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for _ in range(3):
            ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.CHARGE, amount=Decimal("-1"))])
    assert len(callbacks) == 1
    from trunkline.core.models import Job
    assert list(Job.objects.values_list("kind", "debounced", "status")) == [(PUBLISH_BALANCES, True, "queued")]


def test_zero_amounts_are_entries_that_move_nothing_and_publish_nothing(django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        posted = ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.CHARGE, amount=Decimal("0"),
                                               cdr_id=7)])
    assert callbacks == []
    assert [(entry.amount, entry.balance_after) for entry in posted] == [(Decimal("0"), Decimal("0"))]


#
# customer_adjust_balance
#


def test_an_adjustment_moves_the_balance_and_is_audited_under_the_actor(operator_user) -> None:
    customer = make_customer(balance=Decimal("-12.5"))
    with change_context(source="api", user=operator_user):
        entry = customer_adjust_balance(customer_id=customer.pk, amount=Decimal("25.000001"),
                                        reason="  Wire transfer 2026-12-06 ", actor=operator_user)
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason, entry.created_by_id) == (
        "adjustment", Decimal("25.000001"), Decimal("12.500001"), "Wire transfer 2026-12-06", operator_user.pk)
    assert balance(customer) == Decimal("12.500001")
    change = ObjectChange.objects.get(object_id=customer.pk, action="update")
    assert (change.user, change.user_name, change.source) == (operator_user, "operator", "api")
    assert change.prechange_data == {"balance": "-12.500000"}
    assert change.postchange_data == {"balance": "12.500001", "adjustment": "25.000001",
                                      "reason": "Wire transfer 2026-12-06", "ledger_entry": entry.pk}
    assert sorted(change.changed_summary.split(", ")) == ["adjustment", "balance", "ledger_entry", "reason"]


def test_an_adjustment_outside_a_request_is_attributed_to_the_actor(operator_user) -> None:
    customer = make_customer()
    customer_adjust_balance(customer_id=customer.pk, amount=Decimal("-3"), reason="Refund reversed",
                            actor=operator_user)
    change = ObjectChange.objects.get(object_id=customer.pk, action="update")
    assert (change.user_name, change.source, change.prechange_data["balance"],
            change.postchange_data["balance"]) == ("operator", "system", "0.000000", "-3.000000")


@pytest.mark.parametrize(("amount", "reason", "errors"), [
    (Decimal("0"), "x", {"amount": ["The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."]}),
    (Decimal("0.0000001"), "x", {"amount": ["At most 6 decimal places."]}),
    (Decimal("-1000000000000"), "x", {"amount": ["The amount must be less than 1,000,000,000,000 either way."]}),
    (Decimal("Infinity"), "x", {"amount": ["Give a finite amount."]}),
    ("5", "x", {"amount": ["Give the amount as a decimal number such as 25.50 or -10."]}),
    (Decimal("5"), "   ", {"reason": [
        "Say why the balance is adjusted (the customer's statement and the audit log show it)."]}),
    (Decimal("5"), "a" * 501, {"reason": ["At most 500 characters (it has 501)."]}),
    (Decimal("0"), "", {"amount": ["The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."],
                        "reason": ["Say why the balance is adjusted (the customer's statement and the audit log "
                                   "show it)."]}),
])
def test_a_bad_adjustment_writes_nothing(operator_user, amount, reason, errors) -> None:
    customer = make_customer(balance=Decimal("1"))
    with pytest.raises(ValidationError) as raised:
        customer_adjust_balance(customer_id=customer.pk, amount=amount, reason=reason, actor=operator_user)
    assert raised.value.message_dict == errors
    assert balance(customer) == Decimal("1")
    assert LedgerEntry.objects.count() == 1
    assert not ObjectChange.objects.filter(action="update").exists()


def test_an_adjustment_that_would_overflow_the_balance_writes_nothing(operator_user) -> None:
    customer = make_customer(balance=Decimal("999999999999"))
    with pytest.raises(ValidationError) as raised:
        customer_adjust_balance(customer_id=customer.pk, amount=Decimal("1"), reason="x", actor=operator_user)
    assert raised.value.message_dict == {"amount": [
        f"Customer {customer.pk}'s balance would be 1000000000000.000000, beyond what a balance can hold (less than "
        f"1,000,000,000,000 either way)."]}
    assert LedgerEntry.objects.count() == 1
    assert not ObjectChange.objects.filter(action="update").exists()


def test_refresh_sets_the_balance_to_the_sum_of_the_entries(operator_user) -> None:
    customer = make_customer(balance=Decimal("4.25"))
    assert ledger_refresh_balance(customer_id=customer.pk) == (Decimal("4.25"), Decimal("4.25"))
    Customer.objects.filter(pk=customer.pk).update(balance=Decimal("99"))  # a write that bypassed the ledger
    with change_context(source="command"):
        assert ledger_refresh_balance(customer_id=customer.pk) == (Decimal("99"), Decimal("4.25"))
    assert balance(customer) == Decimal("4.25")
    change = ObjectChange.objects.get(object_id=customer.pk, action="update")
    assert (change.source, change.prechange_data, change.postchange_data) == (
        "command", {"balance": "99.000000"}, {"balance": "4.250000"})
