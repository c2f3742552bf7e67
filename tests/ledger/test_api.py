"""GET /api/v1/ledger/ and POST /api/v1/customers/{id}/adjust-balance/: exact answers, 4xx by field with nothing
written, viewers refused, concurrent adjustments of one customer adding up exactly."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from decimal import Decimal

import pytest
from django.db import connection, transaction

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind, LedgerEntry
from trunkline.ledger.services import Posting, ledger_post

LEDGER = "/api/v1/ledger/"


def adjust_url(pk: object) -> str:
    return f"/api/v1/customers/{pk}/adjust-balance/"


@pytest.mark.django_db
def test_an_adjustment_answers_201_with_the_entry_and_the_new_balance(api, operator_user) -> None:
    customer = make_customer(balance=Decimal("-12.5"))
    response = api.post(adjust_url(customer.pk), {"amount": "25.50", "reason": "Wire 2026-12-06"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert body == {"entry": {"id": entry.pk, "customer": customer.pk, "kind": "adjustment", "amount": "25.500000",
                              "balance_after": "13.000000", "cdr_id": None, "reference": "",
                              "reason": "Wire 2026-12-06", "created_by": "operator",
                              "created_at": entry.created_at.isoformat().replace("+00:00", "Z")},
                    "balance": "13.000000"}
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("13")
    change = ObjectChange.objects.get(action="update", object_id=customer.pk)
    assert (change.user_name, change.source, change.prechange_data, change.postchange_data["balance"]) == (
        "operator", "api", {"balance": "-12.500000"}, "13.000000")


@pytest.mark.django_db
def test_a_json_number_is_read_as_written_never_as_a_binary_float(api) -> None:
    customer = make_customer()
    for amount in (0.1, 0.2, -0.3):
        assert api.post(adjust_url(customer.pk), {"amount": amount, "reason": "r"}, format="json").status_code == 201
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("0")


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "errors"), [
    ({"amount": "0", "reason": "x"},
     {"amount": ["The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."]}),
    ({"amount": "-0.000000", "reason": "x"},
     {"amount": ["The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."]}),
    ({"amount": "1.0000001", "reason": "x"}, {"amount": ["At most 6 decimal places."]}),
    ({"amount": "1e3", "reason": "x"},
     {"amount": ["Scientific notation such as 1e3 is not accepted; write the number in full."]}),
    ({"amount": "ten", "reason": "x"}, {"amount": ["A valid number is required."]}),
    ({"amount": "NaN", "reason": "x"}, {"amount": ["A valid number is required."]}),
    ({"amount": "1000000000000", "reason": "x"},
     {"amount": ["The amount must be less than 1,000,000,000,000 either way."]}),
    ({"amount": "5"}, {"reason": ["This field is required."]}),
    ({"amount": "5", "reason": "   "}, {"reason": [
        "Say why the balance is adjusted (the customer's statement and the audit log show it)."]}),
    ({"amount": "0", "reason": ""}, {
        "amount": ["The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."],
        "reason": ["Say why the balance is adjusted (the customer's statement and the audit log show it)."]}),
    ({"amount": "5", "reason": "line\nbreak"}, {"reason": ["Control characters (such as line breaks) are not "
                                                         "allowed here."]}),
    ({"amount": "5", "reason": "r" * 501}, {"reason": ["Ensure this field has no more than 500 characters."]}),
    ({}, {"amount": ["This field is required."], "reason": ["This field is required."]}),
])
def test_bad_input_answers_400_by_field_and_writes_nothing(api, data, errors) -> None:
    customer = make_customer(balance=Decimal("7"))
    response = api.post(adjust_url(customer.pk), data, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("7")
    assert LedgerEntry.objects.count() == 1
    assert not ObjectChange.objects.filter(action="update").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("pk", ["999999", "abc", "99999999999999999999999"])
def test_an_unknown_customer_is_a_404(api, pk) -> None:
    response = api.post(adjust_url(pk), {"amount": "5", "reason": "x"}, format="json")
    assert (response.status_code, response.json()["detail"]) == (404, f"No customer with id {pk}.")
    assert LedgerEntry.objects.count() == 0


@pytest.mark.django_db
def test_a_viewer_is_refused_and_nothing_is_written(api_for, viewer_user) -> None:
    customer = make_customer()
    response = api_for(viewer_user).post(adjust_url(customer.pk), {"amount": "5", "reason": "x"}, format="json")
    assert (response.status_code, response.json()["detail"]) == (403, "Your role does not allow this change.")
    assert LedgerEntry.objects.count() == 0
    assert api_for(viewer_user).get(LEDGER).status_code == 200  # reading is fine


@pytest.mark.django_db
def test_anonymous_is_refused(client) -> None:
    customer = make_customer()
    assert client.post(adjust_url(customer.pk), {"amount": "5", "reason": "x"}).status_code in (401, 403)
    assert client.get(LEDGER).status_code in (401, 403)
    assert LedgerEntry.objects.count() == 0


#
# GET /api/v1/ledger/
#


@pytest.fixture
def ledger(db, operator_user) -> dict[str, Customer]:
    acme, blue = make_customer(name="Acme", balance=Decimal("100")), make_customer(name="Blue")
    with change_context(source="test"), transaction.atomic():
        ledger_post(postings=[
            Posting(customer_id=acme.pk, kind=EntryKind.CHARGE, amount=Decimal("-1.25"), cdr_id=11,
                    reference="call c-11/1"),
            Posting(customer_id=blue.pk, kind=EntryKind.CHARGE, amount=Decimal("-0.5"), cdr_id=12),
            Posting(customer_id=acme.pk, kind=EntryKind.RERATE, amount=Decimal("0.25"), cdr_id=11,
                    reference="recalc #1"),
        ])
    with change_context(source="test"):
        from trunkline.ledger.services import customer_adjust_balance
        customer_adjust_balance(customer_id=acme.pk, amount=Decimal("-10"), reason="Late fee", actor=operator_user)
    return {"acme": acme, "blue": blue}


def listed(api, **params) -> list[tuple]:
    response = api.get(LEDGER, params)
    assert response.status_code == 200, response.json()
    return [(row["kind"], row["amount"], row["balance_after"], row["cdr_id"]) for row in response.json()["results"]]


def test_the_list_is_newest_first_and_filters(api, ledger) -> None:
    acme = ledger["acme"].pk
    assert listed(api, customer=acme) == [("adjustment", "-10.000000", "89.000000", None),
                                          ("rerate", "0.250000", "99.000000", 11),
                                          ("charge", "-1.250000", "98.750000", 11),
                                          ("opening", "100.000000", "100.000000", None)]
    assert listed(api, customer=ledger["blue"].pk) == [("charge", "-0.500000", "-0.500000", 12)]
    assert listed(api, kind="charge", ordering="cdr_id") == [("charge", "-1.250000", "98.750000", 11),
                                                            ("charge", "-0.500000", "-0.500000", 12)]
    assert listed(api, cdr_id="11", kind="rerate") == [("rerate", "0.250000", "99.000000", 11)]
    assert listed(api, customer=acme, ordering="amount") == [("adjustment", "-10.000000", "89.000000", None),
                                                            ("charge", "-1.250000", "98.750000", 11),
                                                            ("rerate", "0.250000", "99.000000", 11),
                                                            ("opening", "100.000000", "100.000000", None)]
    assert listed(api, q="recalc") == [("rerate", "0.250000", "99.000000", 11)]
    assert listed(api, created_after="2000-01-01T00:00:00Z", customer=acme, kind="adjustment") == [
        ("adjustment", "-10.000000", "89.000000", None)]
    assert listed(api, created_before="2000-01-01T00:00:00Z") == []
    body = api.get(LEDGER, {"customer": acme, "kind": "adjustment"}).json()
    assert body["count"] == 1
    assert (body["results"][0]["reason"], body["results"][0]["created_by"]) == ("Late fee", "operator")


def test_the_list_refuses_an_unknown_ordering_and_filter_value(api, ledger) -> None:
    response = api.get(LEDGER, {"ordering": "reason"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"ordering": [
        "Cannot order by 'reason'. Order by id, customer, kind, amount, balance_after, cdr_id, created_at (a leading "
        "'-' for descending)."]}
    response = api.get(LEDGER, {"kind": "gift"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"kind": ["Select a valid choice. gift is not one of the available choices."]}


def test_the_ledger_is_read_only(api, ledger) -> None:
    entry = LedgerEntry.objects.first()
    assert api.post(LEDGER, {"customer": ledger["acme"].pk, "kind": "adjustment", "amount": "5"},
                    format="json").status_code == 405
    assert api.patch(f"{LEDGER}{entry.pk}/", {"amount": "5"}, format="json").status_code == 405
    assert api.delete(f"{LEDGER}{entry.pk}/").status_code == 405
    assert LedgerEntry.objects.count() == 5


#
# Concurrency
#


THREADS = 8
PER_THREAD = 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_of_one_customer_add_up_exactly(api_for, operator_user, publish_handler) -> None:
    """THREADS clients each post PER_THREAD adjustments of one customer at the same instant, each on its own
    database connection, while a batch of charges is posted beside them: the balance is exact and every entry's
    balance_after follows from the one before it."""
    customer = make_customer(balance=Decimal("1000"))
    clients = [api_for(operator_user) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS + 1)
    # SQLite's shared-cache test database fails a second writer at once ("database table is locked"): there the
    # threads take turns and the test still checks the sums; on PostgreSQL the row lock keeps them apart.
    turns = threading.Lock() if connection.vendor == "sqlite" else nullcontext()
    codes: list[object] = []

    def adjust(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            for step in range(PER_THREAD):
                with turns:
                    response = clients[index].post(adjust_url(customer.pk), {
                        "amount": f"{index + 1}.00000{step + 1}", "reason": f"thread {index} step {step}"},
                        format="json")
                codes.append(response.status_code)
        except Exception as error:
            codes.append(repr(error))
        finally:
            connection.close()

    def charge() -> None:
        try:
            barrier.wait(timeout=10)
            with turns, change_context(source="test"), transaction.atomic():
                ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.CHARGE,
                                              amount=Decimal("-0.000123"), cdr_id=n) for n in range(1000)])
            codes.append("charged")
        except Exception as error:
            codes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=adjust, args=(index,)) for index in range(THREADS)]
    threads.append(threading.Thread(target=charge))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(map(str, codes)) == ["201"] * (THREADS * PER_THREAD) + ["charged"]
    adjustments = sum(Decimal(f"{index + 1}.00000{step + 1}") for index in range(THREADS) for step in range(PER_THREAD))
    assert adjustments == Decimal("180.000120")
    expected = Decimal("1000") + adjustments - Decimal("0.123000")
    assert Customer.objects.get(pk=customer.pk).balance == expected == Decimal("1180.000120") - Decimal("0.123")
    running = Decimal("0")
    for amount, after in LedgerEntry.objects.filter(customer=customer).order_by("id").values_list(
            "amount", "balance_after"):
        running += amount
        assert after == running
    assert running == expected
    assert LedgerEntry.objects.filter(customer=customer, kind="adjustment").count() == THREADS * PER_THREAD
    assert ObjectChange.objects.filter(object_id=customer.pk, action="update").count() == THREADS * PER_THREAD
