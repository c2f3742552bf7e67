"""/api/v1/number-blocks/: the next free internal number block of the Settings range, release and reuse, and
concurrent assignments that never share a block."""

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from rest_framework.test import APIClient

from tests.cases.api import APIViewTestCases
from tests.factories import make_customer
from tests.servers import save_settings
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer, NumberBlock
from trunkline.customers.services import number_block_assign

LIST = "/api/v1/number-blocks/"
FIELDS = ["id", "url", "customer", "start", "end", "size", "created", "updated"]
RANGE_NOT_SET = ("Set Internal Number Range Start and Block Size in Setup > Settings before assigning a number "
                 "block.")
ROLE_REFUSED = "Your role does not allow this change."


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


def counts() -> tuple[int, int]:
    return NumberBlock.objects.count(), ObjectChange.objects.count()


def block_changes(action: str) -> Any:
    return ObjectChange.objects.filter(object_type=ContentType.objects.get_for_model(NumberBlock), action=action)


@pytest.fixture
def number_range(db) -> None:
    save_settings(number_range_start=1000, number_block_size=1000)


def assign(api: APIClient, customer: Customer) -> dict[str, Any]:
    response = api.post(LIST, {"customer": customer.pk}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def ranges(api: APIClient) -> list[tuple[int, int]]:
    return [(row["start"], row["end"]) for row in api.get(LIST).json()["results"]]


@pytest.mark.parametrize("fields", [{}, {"number_range_start": 1000}, {"number_block_size": 1000},
                                    {"number_range_start": 1000, "number_block_size": 0}])
def test_without_the_range_in_settings_the_answer_says_so(api, fields) -> None:
    if fields:
        save_settings(**fields)
    customer = make_customer()
    before = counts()
    response = api.post(LIST, {"customer": customer.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": RANGE_NOT_SET, "errors": {"non_field_errors": [RANGE_NOT_SET]}}
    assert counts() == before


def test_first_customer_gets_1000_to_1999_and_the_next_2000_to_2999(api, operator_user, number_range) -> None:
    first, second = make_customer(name="First"), make_customer(name="Second")

    body = assign(api, first)
    block = NumberBlock.objects.get()
    assert list(body) == FIELDS
    assert body == {"id": block.pk, "url": f"http://testserver{detail(block.pk)}", "customer": first.pk,
                    "start": 1000, "end": 1999, "size": 1000, "created": body["created"], "updated": body["updated"]}
    second_body = assign(api, second)
    assert (second_body["customer"], second_body["start"], second_body["end"]) == (second.pk, 2000, 2999)

    change = block_changes("create").get(object_id=block.pk)
    assert (change.user_name, change.source) == (operator_user.username, "api")
    assert change.postchange_data == {"id": block.pk, "customer": first.pk, "start": 1000, "end": 1999}
    # Logged against the customer too, for its Audit Log tab.
    assert (change.related_object_type.model, change.related_object_id) == ("customer", first.pk)


def test_start_and_end_in_the_request_are_ignored(api, number_range) -> None:
    body = assign_with(api, make_customer(), start=5, end=7)
    assert (body["start"], body["end"]) == (1000, 1999)


def assign_with(api: APIClient, customer: Customer, **extra: Any) -> dict[str, Any]:
    response = api.post(LIST, {"customer": customer.pk, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_release_then_assign_reuses_the_freed_block(api, operator_user, number_range) -> None:
    customers = [make_customer() for _ in range(5)]
    blocks = [assign(api, customer) for customer in customers[:3]]
    assert [(b["start"], b["end"]) for b in blocks] == [(1000, 1999), (2000, 2999), (3000, 3999)]

    response = api.delete(detail(blocks[1]["id"]))
    assert response.status_code == 204
    assert not NumberBlock.objects.filter(pk=blocks[1]["id"]).exists()
    change = block_changes("delete").get(object_id=blocks[1]["id"])
    assert change.prechange_data["start"] == 2000 and change.user_name == operator_user.username

    reused = assign(api, customers[3])
    assert (reused["customer"], reused["start"], reused["end"]) == (customers[3].pk, 2000, 2999)
    assert (assign(api, customers[4])["start"]) == 4000


def test_a_customer_may_hold_several_blocks(api, number_range) -> None:
    customer = make_customer()
    assert [assign(api, customer)["start"] for _ in range(3)] == [1000, 2000, 3000]
    assert ranges(api) == [(1000, 1999), (2000, 2999), (3000, 3999)]


def test_other_range_and_a_changed_block_size_never_overlap(api, db) -> None:
    save_settings(number_range_start=5000, number_block_size=100)
    customer = make_customer()
    assert [assign(api, customer)["start"] for _ in range(2)] == [5000, 5100]
    save_settings(number_block_size=250)  # 5000-5199 are taken: the next whole 250-block starts at 5250
    body = assign(api, customer)
    assert (body["start"], body["end"]) == (5250, 5499)
    save_settings(number_block_size=100)  # the gap 5200-5249 cannot hold 100 numbers
    assert assign(api, customer)["start"] == 5500


def test_blocks_are_never_edited(api, number_range) -> None:
    block = assign(api, make_customer())
    other = make_customer()
    before = counts()
    assert api.patch(detail(block["id"]), {"customer": other.pk}, format="json").status_code == 405
    assert api.put(detail(block["id"]), {"customer": other.pk}, format="json").status_code == 405
    assert api.patch(LIST, [{"id": block["id"], "customer": other.pk}], format="json").status_code == 405
    # No CSV import either: it would write blocks around the service (the path is read as a block's id).
    assert api.post(f"{LIST}import/", "customer,start,end\n1,1,2\n", content_type="text/csv").status_code == 405
    assert counts() == before


def test_unknown_customer(api, number_range) -> None:
    before = counts()
    response = api.post(LIST, {"customer": 999999}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"customer": ['Invalid pk "999999" - object does not exist.']}
    assert api.post(LIST, {}, format="json").json()["errors"] == {"customer": ["This field is required."]}
    assert counts() == before


def test_bulk_release(api, number_range) -> None:
    blocks = [assign(api, make_customer()) for _ in range(3)]
    response = api.delete(LIST, [{"id": blocks[0]["id"]}, {"id": blocks[2]["id"]}], format="json")
    assert response.status_code == 204
    assert ranges(api) == [(2000, 2999)]
    assert block_changes("delete").count() == 2
    assert assign(api, make_customer())["start"] == 1000


def test_filters(api, number_range) -> None:
    acme, bravo = make_customer(name="Acme Telecom"), make_customer(name="Bravo Voice")
    first, second, third = assign(api, acme), assign(api, bravo), assign(api, acme)

    def ids(**params: Any) -> list[int]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(customer=acme.pk) == [first["id"], third["id"]]
    assert ids(customer=f"{acme.pk},{bravo.pk}") == [first["id"], second["id"], third["id"]]
    assert ids(q="2345") == [second["id"]]  # the block holding that number
    assert ids(q="bravo") == [second["id"]]
    assert ids(number=3999) == [third["id"]]
    assert ids(number=999) == []
    assert ids(start__gte=2000) == [second["id"], third["id"]]
    assert ids(end__lte=2999) == [first["id"], second["id"]]


def test_viewer_cannot_assign_or_release(api, api_for, viewer_user, number_range) -> None:
    block = assign(api, make_customer())
    client = api_for(viewer_user)
    before = counts()
    for response in (client.post(LIST, {"customer": block["customer"]}, format="json"),
                     client.delete(detail(block["id"])),
                     client.delete(LIST, [{"id": block["id"]}], format="json")):
        assert response.status_code == 403
        assert response.json() == {"detail": ROLE_REFUSED, "errors": {}}
    assert counts() == before
    assert client.get(detail(block["id"])).json()["start"] == 1000


#
# Concurrency: the settings row is the lock
#

THREADS = 8


def one_at_a_time_on_sqlite() -> AbstractContextManager[Any]:
    """On PostgreSQL the threads really run at once: the settings row lock is what keeps them apart. The SQLite test
    database is shared-cache in-memory, where a second writer fails at once with "database table is locked" (the
    busy timeout does not apply), so there the threads take turns: the test still runs, serialised."""
    return threading.Lock() if connection.vendor == "sqlite" else nullcontext()


@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_never_get_the_same_block(api_for, operator_user) -> None:
    """THREADS API requests released at the same instant, each on its own database connection."""
    save_settings(number_range_start=1000, number_block_size=1000)
    customers = [make_customer() for _ in range(THREADS)]
    clients = [api_for(operator_user) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    turns = one_at_a_time_on_sqlite()
    results: dict[int, Any] = {}

    def request(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            with turns:
                response = clients[index].post(LIST, {"customer": customers[index].pk}, format="json")
            results[index] = (response.status_code, response.json())
        except Exception as error:  # reported below with the others, not lost in the thread
            results[index] = (None, repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [results.get(index, (None,))[0] for index in range(THREADS)] == [201] * THREADS, results
    starts = sorted(body["start"] for _, body in results.values())
    assert starts == [1000 * (n + 1) for n in range(THREADS)]
    assert len(set(starts)) == THREADS
    assert NumberBlock.objects.count() == THREADS
    assert sorted(NumberBlock.objects.values_list("customer_id", flat=True)) == sorted(c.pk for c in customers)


@pytest.mark.django_db(transaction=True)
def test_concurrent_service_calls_never_get_the_same_block() -> None:
    """The same through the service, as the control panel calls it, each thread in its own change context."""
    save_settings(number_range_start=1000, number_block_size=1000)
    customers = [make_customer() for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    turns = one_at_a_time_on_sqlite()
    starts: list[int] = []
    errors: list[str] = []

    def work(customer: Customer) -> None:
        try:
            barrier.wait(timeout=10)
            with turns, change_context(source="test"):
                starts.append(number_block_assign(customer=customer).start)
        except Exception as error:
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(customer,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(starts) == [1000 * (n + 1) for n in range(THREADS)]


#
# The generated cases
#


def _three_blocks() -> list[NumberBlock]:
    save_settings(number_range_start=1000, number_block_size=1000)
    with change_context(source="test"):
        return [number_block_assign(customer=make_customer()) for _ in range(3)]


class TestNumberBlockAPI(APIViewTestCases.ListObjectsTestCase, APIViewTestCases.DeleteObjectTestCase):
    model = NumberBlock
    create_objects = staticmethod(_three_blocks)
