"""New customers of an import are inserted in batches (bulk_create) with their audit entries written in batches too:
the entries must be exactly those a one-by-one create writes (issue 8, finding 7: 200,000 rows took 15-18 minutes
with two INSERTs per row)."""

from __future__ import annotations

import uuid

import pytest

from trunkline.audit.models import ObjectChange
from trunkline.core import bulk_import
from trunkline.core.models import Job
from trunkline.customers.models import Customer
from trunkline.routing.publish import PUBLISH_SNAPSHOT

URL = "/api/v1/customers/import/"
HEADER = "name,currency,status,channels\n"
# Compared between an imported row's entry and a POSTed customer's; the rest differ by nature.
COMPARED = ("user", "user_name", "source", "ip", "action", "object_type", "object_repr", "related_object_type",
            "related_object_id", "prechange_data", "postchange_data")


def send(api, text: str):
    return api.post(URL, text.encode(), content_type="text/csv")


def customer_changes():
    return ObjectChange.objects.filter(object_type__model="customer")


def entry(change: ObjectChange) -> dict:
    data = {name: getattr(change, name) for name in COMPARED}
    data["postchange_data"] = {**change.postchange_data, "id": "(the customer's id)"}
    return data


def test_an_imported_rows_entry_is_the_one_a_single_create_writes(api):
    posted = api.post("/api/v1/customers/", {
        "name": "Acme Telecom", "currency": "USD", "status": "pending_approval", "debit_limit": "250.50",
        "tax_rate": "19.5", "country": "US", "channels": 30, "cps": 5, "tags": ["vip", "wholesale"],
        "portal_access": False, "paypal_email": "pay@acme.example", "vars": 'tier = "gold"'}, format="json")
    assert posted.status_code == 201, posted.content
    by_post = customer_changes().get(action="create")
    assert api.delete(f"/api/v1/customers/{posted.json()['id']}/").status_code == 204

    imported = send(api, "name,currency,status,debit_limit,tax_rate,country,channels,cps,tags,portal_access,"
                         "paypal_email,vars\n"
                         'Acme Telecom,USD,pending_approval,250.50,19.5,US,30,5,"vip, wholesale",false,'
                         'pay@acme.example,"tier = ""gold"""\n')

    assert imported.status_code == 200, imported.content
    customer = Customer.objects.get()
    by_import = customer_changes().get(action="create", object_id=customer.pk)
    assert by_import.request_id == uuid.UUID(imported["X-Request-ID"])
    assert by_post.request_id == uuid.UUID(posted["X-Request-ID"])
    assert by_import.postchange_data["id"] == customer.pk
    assert entry(by_import) == entry(by_post)
    assert by_import.user.username == "operator" and by_import.source == "api"
    assert by_import.postchange_data["tags"] == ["vip", "wholesale"]
    assert by_import.postchange_data["debit_limit"] == "250.500000"


def test_every_created_row_has_exactly_one_entry_across_batches(api, django_capture_on_commit_callbacks,
                                                                django_assert_max_num_queries):
    count = 2 * bulk_import.CHUNK_ROWS + 3  # three batches, the last one short
    lines = "".join(f"Carrier {number:04d},USD,active,{number % 7}\n" for number in range(count))

    # Saved one by one, the rows would take two INSERTs each (2,006). In batches: 13 queries in all on PostgreSQL,
    # 53 on SQLite (its limit of 999 parameters a query splits a batch into several INSERTs).
    with django_capture_on_commit_callbacks(execute=True) as callbacks, django_assert_max_num_queries(60):
        response = send(api, HEADER + lines)

    assert response.status_code == 200, response.content
    assert response.json()["created"] == count
    changes = customer_changes()
    assert changes.count() == count
    assert sorted(changes.values_list("object_id", "object_repr")) == sorted(
        Customer.objects.values_list("pk", "name"))
    assert set(changes.values_list("action", "source", "user_name", "request_id")) == {
        ("create", "api", "operator", uuid.UUID(response["X-Request-ID"]))}
    # The routing snapshot is asked for once, whatever the number of batches.
    assert len(callbacks) == 1
    assert Job.objects.filter(kind=PUBLISH_SNAPSHOT, status="queued").count() == 1


def test_creates_and_updates_are_logged_in_the_files_order(api, setup_context):
    kept = Customer.objects.create(name="Kept", currency="USD", channels=1)

    response = send(api, f"id,name,currency,channels\n,First,USD,2\n{kept.pk},,,10\n,Second,EUR,3\n")

    assert response.status_code == 200, response.content
    assert response.json()["detail"] == "Imported 3 rows: 2 new, 1 updated."
    logged = customer_changes().exclude(object_id=kept.pk, action="create").order_by("id")
    assert list(logged.values_list("action", "object_repr")) == [
        ("create", "First"), ("update", "Kept"), ("create", "Second")]
    assert list(Customer.objects.order_by("pk").values_list("name", "channels")) == [
        ("Kept", 10), ("First", 2), ("Second", 3)]


def test_a_batch_the_database_refuses_is_a_row_error_and_nothing_is_written(api, setup_context, monkeypatch):
    """A constraint the validators cannot see (here: the uniqueness check made blind, as a concurrent writer
    inserting the same name between the check and the write would leave it)."""
    Customer.objects.create(name="Carrier 0001", currency="USD")
    monkeypatch.setattr(bulk_import._Rows, "_taken", lambda self, chunk: {name: {} for name, _ in
                                                                          self.unique_checks})
    before = (Customer.objects.count(), ObjectChange.objects.count())

    response = send(api, HEADER + "".join(f"Carrier {number:04d},USD,active,1\n" for number in range(3)))

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "1 row with errors; nothing was imported."
    assert list(body["errors"]) == ["row 2"]
    [message] = body["errors"]["row 2"]["row"]
    assert message.startswith("The database refused one of rows 2 to 4: ")
    assert "name" in message  # the constraint the database names: the unique customer name
    assert (Customer.objects.count(), ObjectChange.objects.count()) == before


def test_a_bad_row_after_a_written_batch_writes_nothing(api):
    before = (Customer.objects.count(), ObjectChange.objects.count())
    lines = "".join(f"Carrier {number:04d},USD,active,1\n" for number in range(bulk_import.CHUNK_ROWS + 10))

    response = send(api, HEADER + lines + "Last,USD,active,-1\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        f"row {bulk_import.CHUNK_ROWS + 12}": {"channels": ["Ensure this value is greater than or equal to 0."]}}
    assert (Customer.objects.count(), ObjectChange.objects.count()) == before


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_import_without_bulk_create_still_saves_one_by_one(api, setup_context, monkeypatch, dry_run):
    """The serializer's opt-in decides: without it each row goes through serializer.save() (and its service)."""
    from trunkline.customers.api.serializers import CustomerSerializer

    monkeypatch.setattr(CustomerSerializer, "import_bulk_create", False)
    saved = []
    monkeypatch.setattr(CustomerSerializer, "create", lambda self, data: saved.append(data["name"]) or
                        Customer.objects.create(**data))

    response = api.post(URL + ("?dry_run=1" if dry_run else ""), (HEADER + "A,USD,active,1\nB,USD,active,2\n")
                        .encode(), content_type="text/csv")

    assert response.status_code == 200, response.content
    assert saved == ([] if dry_run else ["A", "B"])
    assert customer_changes().filter(action="create").count() == (0 if dry_run else 2)
