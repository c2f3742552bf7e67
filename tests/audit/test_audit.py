"""The audit log: every write path leaves one entry per change, with who, when, from where and before/after."""

import uuid
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core.context import MissingChangeContext, change_context
from trunkline.core.models import MASKED, User
from trunkline.customers.models import Customer

API = "/api/v1/customers/"



def counts() -> tuple[int, int]:
    return Customer.objects.count(), ObjectChange.objects.count()


def customer_changes():
    return ObjectChange.objects.filter(object_type__model="customer").order_by("id")


def request_id(response) -> uuid.UUID:
    return uuid.UUID(response["X-Request-ID"])


def changed(entry: ObjectChange) -> dict[str, tuple[Any, Any]]:
    """The fields whose value differs between before and after, with both values."""
    before, after = entry.prechange_data or {}, entry.postchange_data or {}
    return {key: (before.get(key), after.get(key)) for key in {*before, *after} if before.get(key) != after.get(key)}


def stored_state(**overrides: Any) -> dict[str, Any]:
    """A customer as the audit log shows it: every concrete field but created/updated, as JSON."""
    state = {
        "name": "Acme", "paypal_email": "", "website": "", "status": "active", "debit_limit": "0.000000",
        "minimum_payment": "0.000000", "tax_rate": "0.0000", "currency": "USD", "portal_access": True,
        "address_line1": "", "address_line2": "", "city": "", "region": "", "postcode": "", "country": "",
        "channels": 0, "cps": 0, "tags": [], "vars": "", "email_verification": False, "mobile_verification": False,
        "approved_clis_only": False, "notes": "", "balance": "0.000000",
    }
    state.update(overrides)
    return state


def form_data(**overrides: Any) -> dict[str, Any]:
    """What the add/edit form posts (unchecked boxes are absent)."""
    data = {
        "name": "Acme", "status": "active", "currency": "USD", "debit_limit": "0", "minimum_payment": "0",
        "tax_rate": "0", "channels": "0", "cps": "0", "portal_access": "on", "paypal_email": "", "website": "",
        "address_line1": "", "address_line2": "", "city": "", "region": "", "postcode": "", "country": "",
        "tags": "", "vars": "", "notes": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def assert_entry(entry: ObjectChange, *, user: User | None, source: str, action: str, obj: Customer,
                 response=None) -> None:
    assert entry.user == user
    assert entry.user_name == (user.username if user else source)
    assert entry.source == source
    assert entry.action == action
    assert entry.object_type.model == "customer"
    assert entry.object_id == obj.pk
    assert entry.object_repr == obj.name
    assert timezone.now() - timedelta(minutes=1) < entry.time <= timezone.now()
    if response is not None:
        assert entry.request_id == request_id(response)
        assert entry.ip == "127.0.0.1"


# API write paths


def test_api_create(api, operator_user):
    response = api.post(API, {"name": "Acme", "currency": "USD", "debit_limit": "12.5", "tags": ["vip"]},
                        format="json")

    assert response.status_code == 201, response.content
    customer = Customer.objects.get()
    entry = customer_changes().get()
    assert_entry(entry, user=operator_user, source="api", action="create", obj=customer, response=response)
    assert entry.prechange_data is None
    assert entry.postchange_data == {"id": customer.pk, **stored_state(debit_limit="12.500000", tags=["vip"])}


def test_api_update(api, operator_user):
    customer = make_customer(name="Acme", status="active", channels=10)
    before = counts()

    response = api.patch(f"{API}{customer.pk}/", {"status": "inactive", "channels": 20}, format="json")

    assert response.status_code == 200, response.content
    assert counts() == (before[0], before[1] + 1)
    entry = customer_changes().last()
    assert_entry(entry, user=operator_user, source="api", action="update", obj=customer, response=response)
    assert changed(entry) == {"status": ("active", "inactive"), "channels": (10, 20)}
    assert entry.postchange_data == {"id": customer.pk, **stored_state(status="inactive", channels=20)}


def test_api_delete(api, operator_user):
    customer = make_customer(name="Acme", cps=3)

    response = api.delete(f"{API}{customer.pk}/")

    assert response.status_code == 204
    entry = customer_changes().last()
    assert_entry(entry, user=operator_user, source="api", action="delete", obj=customer, response=response)
    assert entry.prechange_data == {"id": customer.pk, **stored_state(cps=3)}
    assert entry.postchange_data is None


def test_api_bulk_edit(api, operator_user):
    a = make_customer(name="A", status="active")
    b = make_customer(name="B", status="penalty")

    response = api.patch(API, [{"id": a.pk, "status": "inactive"}, {"id": b.pk, "status": "active"}], format="json")

    assert response.status_code == 200, response.content
    entries = list(customer_changes().filter(action="update"))
    assert len(entries) == 2
    assert_entry(entries[0], user=operator_user, source="api", action="update", obj=a, response=response)
    assert_entry(entries[1], user=operator_user, source="api", action="update", obj=b, response=response)
    assert changed(entries[0]) == {"status": ("active", "inactive")}
    assert changed(entries[1]) == {"status": ("penalty", "active")}


def test_api_bulk_delete(api, operator_user):
    a = make_customer(name="A")
    b = make_customer(name="B")

    response = api.delete(API, [{"id": a.pk}, {"id": b.pk}], format="json")

    assert response.status_code == 204
    entries = list(customer_changes().filter(action="delete"))
    assert len(entries) == 2
    assert_entry(entries[0], user=operator_user, source="api", action="delete", obj=a, response=response)
    assert_entry(entries[1], user=operator_user, source="api", action="delete", obj=b, response=response)
    assert [entry.prechange_data["name"] for entry in entries] == ["A", "B"]


def test_api_import(api, operator_user):
    existing = make_customer(name="Existing", channels=1)

    response = api.post(f"{API}import/", f"id,name,currency,channels\n{existing.pk},,,5\n,Fresh,EUR,2\n".encode(),
                        content_type="text/csv")

    assert response.status_code == 200, response.content
    update, create = customer_changes().filter(source="api")
    assert_entry(update, user=operator_user, source="api", action="update", obj=existing, response=response)
    assert changed(update) == {"channels": (1, 5)}
    fresh = Customer.objects.get(name="Fresh")
    assert_entry(create, user=operator_user, source="api", action="create", obj=fresh, response=response)
    assert create.postchange_data == {"id": fresh.pk, **stored_state(name="Fresh", currency="EUR", channels=2)}


def test_refused_api_writes_leave_no_entry(api):
    customer = make_customer(name="Acme")
    before = counts()

    responses = [
        api.post(API, {"name": "Acme", "currency": "USD"}, format="json"),
        api.patch(f"{API}{customer.pk}/", {"currency": "EUR"}, format="json"),
        api.patch(API, [{"id": customer.pk, "cps": 1}, {"id": 999999, "cps": 1}], format="json"),
        api.delete(API, [{"id": customer.pk}, {"id": 999999}], format="json"),
        api.post(f"{API}import/", b"name,currency\nNew,USD\nBad,XYZ\n", content_type="text/csv"),
    ]

    assert [response.status_code for response in responses] == [400] * 5
    assert counts() == before


# Control-panel write paths


def test_ui_add(web, operator_user):
    response = web.post("/customers/add/", form_data(name="Acme", debit_limit="100", tags="vip, wholesale"))

    assert response.status_code == 302, response.content
    customer = Customer.objects.get()
    assert response["Location"] == f"/customers/{customer.pk}/"
    entry = customer_changes().get()
    assert_entry(entry, user=operator_user, source="web", action="create", obj=customer, response=response)
    assert entry.prechange_data is None
    assert entry.postchange_data == {"id": customer.pk, **stored_state(debit_limit="100.000000",
                                                                       tags=["vip", "wholesale"])}


def test_ui_edit(web, operator_user):
    customer = make_customer(name="Acme", status="active", city="Dallas")

    response = web.post(f"/customers/{customer.pk}/edit/", form_data(status="penalty", city="Austin"))

    assert response.status_code == 302, response.content
    entry = customer_changes().last()
    assert_entry(entry, user=operator_user, source="web", action="update", obj=customer, response=response)
    assert changed(entry) == {"status": ("active", "penalty"), "city": ("Dallas", "Austin")}


def test_ui_edit_cannot_change_the_currency(web):
    customer = make_customer(name="Acme", currency="USD")
    before = counts()

    response = web.post(f"/customers/{customer.pk}/edit/", form_data(currency="EUR"))

    # The field is disabled on edit: the posted value is ignored, so nothing changes and nothing is logged.
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.currency == "USD"
    assert counts() == before


def test_ui_delete(web, operator_user):
    customer = make_customer(name="Acme")

    response = web.post(f"/customers/{customer.pk}/delete/")

    assert response.status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()
    entry = customer_changes().last()
    assert_entry(entry, user=operator_user, source="web", action="delete", obj=customer, response=response)
    assert entry.prechange_data == {"id": customer.pk, **stored_state()}
    assert entry.postchange_data is None


def test_ui_bulk_edit(web, operator_user):
    a = make_customer(name="A", status="active", channels=1, cps=1, debit_limit=Decimal("0"), tags=["old", "keep"],
                      portal_access=True)
    b = make_customer(name="B", status="penalty", channels=2, cps=2, tax_rate=Decimal("5"), tags=[],
                      portal_access=True)

    response = web.post("/customers/edit/", {
        "pk": [a.pk, b.pk], "_apply": "", "status": "inactive", "channels": "30", "cps": "4",
        "debit_limit": "250.5", "tax_rate": "20", "add_tags": "vip, new", "remove_tags": "OLD",
        "portal_access": "false",
    })

    assert response.status_code == 302, response.content
    entries = list(customer_changes().filter(action="update"))
    assert len(entries) == 2
    assert_entry(entries[0], user=operator_user, source="web", action="update", obj=a, response=response)
    assert_entry(entries[1], user=operator_user, source="web", action="update", obj=b, response=response)
    assert changed(entries[0]) == {
        "status": ("active", "inactive"), "channels": (1, 30), "cps": (1, 4),
        "debit_limit": ("0.000000", "250.500000"), "tax_rate": ("0.0000", "20.0000"),
        "tags": (["old", "keep"], ["keep", "vip", "new"]), "portal_access": (True, False),
    }
    assert changed(entries[1]) == {
        "status": ("penalty", "inactive"), "channels": (2, 30), "cps": (2, 4),
        "debit_limit": ("0.000000", "250.500000"), "tax_rate": ("5.0000", "20.0000"),
        "tags": ([], ["vip", "new"]), "portal_access": (True, False),
    }


def test_ui_bulk_edit_that_fails_on_one_object_changes_none(web, setup_context):
    a = make_customer(name="A", status="active")
    b = make_customer(name="B", status="active")
    Customer.objects.filter(pk=b.pk).update(vars="[broken")  # stored before validation existed
    before = counts()

    response = web.post("/customers/edit/", {"pk": [a.pk, b.pk], "_apply": "", "status": "inactive",
                                             "portal_access": "unknown"})

    assert response.status_code == 200
    assert "Nothing was changed. B: vars: Invalid TOML" in response.content.decode()
    assert list(Customer.objects.order_by("name").values_list("status", flat=True)) == ["active", "active"]
    assert counts() == before


def test_ui_bulk_delete(web, operator_user):
    a = make_customer(name="A")
    b = make_customer(name="B")
    keep = make_customer(name="Keep")

    response = web.post("/customers/delete/", {"pk": [a.pk, b.pk], "_confirm": ""})

    assert response.status_code == 302
    assert list(Customer.objects.values_list("pk", flat=True)) == [keep.pk]
    entries = list(customer_changes().filter(action="delete"))
    assert len(entries) == 2
    assert_entry(entries[0], user=operator_user, source="web", action="delete", obj=a, response=response)
    assert_entry(entries[1], user=operator_user, source="web", action="delete", obj=b, response=response)


def test_ui_bulk_delete_without_confirm_deletes_nothing(web):
    a = make_customer(name="A")
    before = counts()

    response = web.post("/customers/delete/", {"pk": [a.pk]})

    assert response.status_code == 200
    assert counts() == before


# Commands


@pytest.mark.django_db
def test_demo_command():
    out = StringIO()

    call_command("demo", stdout=out)

    # Customers billed in USD, GBP or EUR (46 of the 50) get a demo ingress route and IP-auth entry each, and one
    # of them 127.0.0.1 too.
    assert out.getvalue() == ("Demo data: 50 customers created, 0 already there; 70 contacts created.\n"
                              "Demo routing: 3 providers, 12 rate cards, 46 ingress routes, 47 IP-auth entries "
                              "created.\n"
                              "Demo email and SMS: Setup > Settings send to the outbox; `trunkline outbox` (started "
                              "by `make run`) writes each message to var/outbox/.\n")
    entries = customer_changes()
    assert entries.count() == 50
    assert set(entries.values_list("source", "user_name", "action")) == {("command", "command", "create")}
    assert set(entries.values_list("user", flat=True)) == {None}
    assert set(entries.values_list("ip", flat=True)) == {None}
    assert entries.values("request_id").distinct().count() == 1  # one command run, one request id
    assert ObjectChange.objects.values("request_id").distinct().count() == 1  # the demo routing's entries too
    assert Customer.objects.count() == 50


@pytest.mark.django_db
def test_demo_command_twice_writes_nothing_new():
    call_command("demo", stdout=StringIO())
    before = counts()
    out = StringIO()

    call_command("demo", stdout=out)

    assert out.getvalue() == ("Demo data: 0 customers created, 50 already there; 0 contacts created.\n"
                              "Demo routing: 0 providers, 0 rate cards, 0 ingress routes, 0 IP-auth entries "
                              "created.\n")
    assert counts() == before



# No-op saves and missing context


def test_a_noop_api_update_writes_nothing(api):
    customer = make_customer(name="Acme", status="active", debit_limit=Decimal("100"), tags=["vip"])
    before = counts()

    response = api.patch(f"{API}{customer.pk}/", {"status": "active", "debit_limit": "100", "tags": "vip"},
                         format="json")

    assert response.status_code == 200, response.content
    assert counts() == before


def test_a_noop_ui_edit_writes_nothing(web):
    customer = make_customer(name="Acme", debit_limit=Decimal("100"), tax_rate=Decimal("20"), tags=["vip"])
    before = counts()

    # Typed as a person would: "100", not "100.000000".
    response = web.post(f"/customers/{customer.pk}/edit/", form_data(debit_limit="100", tax_rate="20", tags="vip"))

    assert response.status_code == 302, response.content
    assert counts() == before


def test_a_noop_ui_bulk_edit_writes_nothing(web):
    a = make_customer(name="A", status="active", debit_limit=Decimal("100"), tags=["vip"])
    before = counts()

    response = web.post("/customers/edit/", {"pk": [a.pk], "_apply": "", "status": "active",
                                             "debit_limit": "100", "add_tags": "vip", "portal_access": "unknown"})

    assert response.status_code == 302, response.content
    assert counts() == before


def test_saving_twice_without_a_change_writes_one_entry(db):
    with change_context(source="test"):
        customer = Customer(name="Acme", currency="USD")
        customer.save()
        customer.save()
        Customer.objects.get(pk=customer.pk).save()

    assert customer_changes().count() == 1


def test_a_second_change_of_the_same_instance_has_the_first_as_before(db):
    with change_context(source="test"):
        customer = Customer(name="Acme", currency="USD")
        customer.save()
        customer.channels = 5
        customer.save()
        customer.channels = 9
        customer.save()

    first, second, third = customer_changes()
    assert first.action == "create"
    assert changed(second) == {"channels": (0, 5)}
    assert changed(third) == {"channels": (5, 9)}


def test_saving_a_customer_without_a_change_context_raises_and_writes_nothing(db):
    before = counts()

    with pytest.raises(MissingChangeContext, match=r"wrap the write in trunkline\.core\.context\.change_context"):
        Customer(name="Sneaky", currency="USD").save()

    assert counts() == before


def test_updating_a_customer_without_a_change_context_raises_and_writes_nothing(db):
    customer = make_customer(name="Acme", channels=1)
    before = counts()
    customer.channels = 99

    with pytest.raises(MissingChangeContext):
        customer.save()

    customer.refresh_from_db()
    assert customer.channels == 1
    assert counts() == before


def test_deleting_a_customer_without_a_change_context_raises_and_deletes_nothing(db):
    customer = make_customer(name="Acme")
    before = counts()

    with pytest.raises(MissingChangeContext), transaction.atomic():
        customer.delete()

    assert Customer.objects.filter(pk=customer.pk).exists()
    assert counts() == before


def test_saving_a_user_without_a_change_context_raises(db):
    before = User.objects.count()

    with pytest.raises(MissingChangeContext):
        User.objects.create_user(username="sneaky", password="Correct-Horse-Battery-9")

    assert User.objects.count() == before
    assert ObjectChange.objects.count() == 0


# Users: password hashes never reach the log


def test_a_new_users_password_hash_is_masked(db):
    with change_context(source="test"):
        user = User.objects.create_user(username="alice", password="Correct-Horse-Battery-9", role="operator")

    entry = ObjectChange.objects.get(object_type__model="user")
    assert entry.postchange_data["password"] == MASKED == "********"
    assert entry.postchange_data["username"] == "alice"
    assert user.password not in str(entry.postchange_data)
    assert "last_login" not in entry.postchange_data


def test_a_user_change_keeps_the_hash_masked(db):
    with change_context(source="test"):
        user = User.objects.create_user(username="alice", password="Correct-Horse-Battery-9")
        user.first_name = "Alice"
        user.set_password("Another-Horse-Battery-10")
        user.save()

    entry = ObjectChange.objects.filter(object_type__model="user", action="update").get()
    assert (entry.prechange_data["password"], entry.postchange_data["password"]) == ("********",
                                                                                     "******** (changed)")
    assert entry.changed_summary == "first_name, password changed"
    assert entry.prechange_data["first_name"] == ""
    assert entry.postchange_data["first_name"] == "Alice"
    assert user.password not in str(entry.prechange_data) + str(entry.postchange_data)


def test_a_password_only_change_is_logged(db):
    with change_context(source="test"):
        user = User.objects.create_user(username="alice", password="Correct-Horse-Battery-9")
    with change_context(source="command"):
        user = User.objects.get(pk=user.pk)
        user.set_password("Another-Horse-Battery-10")
        user.save()

    entry = ObjectChange.objects.filter(object_type__model="user", action="update").get()
    assert entry.source == "command"
    # Shown as "password changed", never the value or its hash.
    assert (entry.prechange_data["password"], entry.postchange_data["password"]) == ("********",
                                                                                     "******** (changed)")
    assert (entry.changed_fields, entry.changed_summary) == (["password"], "password changed")
    assert user.password not in str(entry.prechange_data) + str(entry.postchange_data)


def test_a_login_does_not_write_an_entry(client, operator_user):
    before = ObjectChange.objects.count()

    response = client.post("/login/", {"username": "operator", "password": "Correct-Horse-Battery-9"})

    assert response.status_code == 302
    assert ObjectChange.objects.count() == before


# The audit-log API


@pytest.fixture
def history(api_for, operator_user, admin_user):
    """A customer created by setup, changed by the operator twice, another created and deleted by the admin."""
    acme = make_customer(name="Acme", status="active")
    operator, admin = api_for(operator_user), api_for(admin_user)
    operator.patch(f"{API}{acme.pk}/", {"status": "inactive"}, format="json")
    operator.patch(f"{API}{acme.pk}/", {"cps": 5}, format="json")
    other = admin.post(API, {"name": "Other", "currency": "EUR"}, format="json").json()
    admin.delete(f"{API}{other['id']}/")
    return {"acme": acme, "other_id": other["id"]}


@pytest.mark.parametrize(("params", "expected"), [
    ({"object_type": "customer"}, [("Other", "delete"), ("Other", "create"), ("Acme", "update"), ("Acme", "update"),
                                   ("Acme", "create")]),
    ({"object_type": "CUSTOMER"}, [("Other", "delete"), ("Other", "create"), ("Acme", "update"), ("Acme", "update"),
                                   ("Acme", "create")]),
    ({"object_type": "user"}, [("admin", "create"), ("operator", "create")]),
    ({"user": "operator"}, [("Acme", "update"), ("Acme", "update")]),
    ({"user": "admin"}, [("Other", "delete"), ("Other", "create")]),
    ({"user": "test"}, [("Acme", "create"), ("admin", "create"), ("operator", "create")]),
    ({"action": "delete"}, [("Other", "delete")]),
    ({"action": ["create", "delete"], "object_type": "customer"}, [("Other", "delete"), ("Other", "create"),
                                                                     ("Acme", "create")]),
    ({"object_type": "customer", "user": "operator", "action": "create"}, []),
])
def test_audit_log_api_filters(api, history, params, expected):
    response = api.get("/api/v1/audit-log/", params)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(expected)
    assert [(row["object_repr"], row["action"]) for row in body["results"]] == expected


def test_audit_log_api_filters_by_object_id(api, history):
    acme = history["acme"]

    response = api.get("/api/v1/audit-log/", {"object_type": "customer", "object_id": acme.pk})
    other = api.get("/api/v1/audit-log/", {"object_type": "customer", "object_id": history["other_id"]})

    assert response.json()["count"] == 3
    assert {row["object_id"] for row in response.json()["results"]} == {acme.pk}
    assert [row["action"] for row in other.json()["results"]] == ["delete", "create"]


def test_audit_log_api_entry_shape(api, history):
    entry = ObjectChange.objects.filter(user_name="operator").order_by("id").first()

    response = api.get(f"/api/v1/audit-log/{entry.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": entry.pk,
        "time": response.json()["time"],
        "user": "operator",
        "source": "api",
        "ip": "127.0.0.1",
        "request_id": str(entry.request_id),
        "action": "update",
        "object_type": "customer",
        "object_type_name": "Customer",
        "object_id": history["acme"].pk,
        "object_repr": "Acme",
        "prechange_data": {"id": history["acme"].pk, **stored_state()},
        "postchange_data": {"id": history["acme"].pk, **stored_state(status="inactive")},
    }
    assert response.json()["time"].replace("Z", "+00:00") == entry.time.isoformat()


def test_audit_log_api_is_read_only(api, history):
    entry = ObjectChange.objects.first()
    before = ObjectChange.objects.count()

    responses = [
        api.post("/api/v1/audit-log/", {"action": "create"}, format="json"),
        api.patch(f"/api/v1/audit-log/{entry.pk}/", {"action": "delete"}, format="json"),
        api.delete(f"/api/v1/audit-log/{entry.pk}/"),
        api.delete("/api/v1/audit-log/", [{"id": entry.pk}], format="json"),
    ]

    assert [response.status_code for response in responses] == [405] * 4
    assert ObjectChange.objects.count() == before


def test_audit_log_api_can_be_read_by_a_viewer(api_for, viewer_user, history):
    response = api_for(viewer_user).get("/api/v1/audit-log/", {"object_type": "customer"})

    assert response.status_code == 200
    assert response.json()["count"] == 5


# The audit-log pages


def test_audit_log_list_page(web, history):
    response = web.get("/audit-log/", {"object_type": "customer"})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="badge badge-delete">Deleted</span>' in html
    assert '<span class="badge badge-update">Updated</span>' in html
    assert f'<a href="/customers/{history["acme"].pk}/">Acme</a>' in html


def test_audit_log_list_page_filters(web, history):
    response = web.get("/audit-log/", {"object_type": "customer", "action": "delete"})

    html = response.content.decode()
    assert html.count('<span class="badge badge-delete">Deleted</span>') == 1
    assert "badge-update" not in html


def test_audit_log_diff_page_shows_before_and_after(web, history):
    entry = ObjectChange.objects.filter(user_name="operator").order_by("id").first()

    response = web.get(f"/audit-log/{entry.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert ('<tr class="changed"><td><code>status</code></td><td class="mono before">&quot;active&quot;</td>'
            '<td class="mono after">&quot;inactive&quot;</td></tr>') in html
    assert ('<tr class="unchanged"><td><code>name</code></td><td class="mono before">&quot;Acme&quot;</td>'
            '<td class="mono after">&quot;Acme&quot;</td></tr>') in html
    assert html.count('<tr class="changed">') == 1
    assert str(entry.request_id) in html


def test_audit_log_diff_page_of_a_delete(web, history):
    entry = ObjectChange.objects.get(action="delete")

    response = web.get(f"/audit-log/{entry.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert ('<tr class="changed"><td><code>name</code></td><td class="mono before">&quot;Other&quot;</td>'
            '<td class="mono after">null</td></tr>') in html


def test_a_user_change_in_the_diff_page_shows_the_mask(web, admin_user):
    entry = ObjectChange.objects.get(object_type__model="user", object_repr="admin")

    response = web.get(f"/audit-log/{entry.pk}/")

    html = response.content.decode()
    assert ('<td><code>password</code></td><td class="mono before">null</td>'
            '<td class="mono after">&quot;********&quot;</td>') in html
    assert admin_user.password not in html


def test_the_customer_page_lists_its_changes(web, history):
    response = web.get(f"/customers/{history['acme'].pk}/audit-log/")

    assert response.status_code == 200
    html = response.content.decode()
    for entry in customer_changes().filter(object_id=history["acme"].pk):
        assert entry.get_absolute_url() in html
