"""Concurrent writers (issue 8, findings 2 and 3): two clients changing different fields of one record both keep
their change, the audit log names only the field each sent, and bulk edits naming the same rows in opposite
orders never deadlock. The threads meet the real database locks (SQLite's test database is a file)."""

import threading
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.factories import make_contact, make_customer
from tests.sipauth.factories import make_sip_user
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.models import SystemSettings, User
from trunkline.customers.models import Contact, Customer
from trunkline.customers.services import contact_reset_password

API = "/api/v1/customers/"


def _operator(name: str) -> User:
    with change_context(source="test"):
        return User.objects.create_user(username=name, password=PASSWORD, role=User.Role.OPERATOR)


def _api_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; each thread's result (or exception) in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:  # reported by the test, not lost in the thread
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _changed_fields(entry: ObjectChange) -> set[str]:
    before, after = entry.prechange_data or {}, entry.postchange_data or {}
    return {name for name in after if before.get(name) != after[name]}


def _audit_problems(customer: Customer, since: int, expected: dict[str, set[str]]) -> list[str]:
    """Each user's entries of one round must name exactly the fields that user sent."""
    problems = []
    entries = ObjectChange.objects.filter(pk__gt=since, object_type__model="customer", object_id=customer.pk)
    for username, fields in expected.items():
        named = [_changed_fields(entry) for entry in entries if entry.user_name == username]
        if named != [fields]:
            problems.append(f"{username}: {named}")
    return problems


def _last_change_id() -> int:
    return ObjectChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.django_db(transaction=True)
def test_two_clients_patching_different_fields_of_one_customer_lose_nothing():
    customer = make_customer(channels=0, cps=0)
    alice, bob = _api_client(_operator("alice")), _api_client(_operator("bob"))
    assert alice.get(f"{API}{customer.pk}/").status_code == 200  # code loaded before the threads, as in a server
    lost, statuses, audit = [], [], []

    for round_ in range(1, 31):
        since = _last_change_id()
        results = _together(
            lambda r=round_: alice.patch(f"{API}{customer.pk}/", {"channels": 100 + r}, format="json").status_code,
            lambda r=round_: bob.patch(f"{API}{customer.pk}/", {"cps": 200 + r}, format="json").status_code,
        )
        statuses += results
        stored = Customer.objects.values("channels", "cps").get(pk=customer.pk)
        if stored != {"channels": 100 + round_, "cps": 200 + round_}:
            lost.append(f"round {round_}: {stored}")
        audit += _audit_problems(customer, since, {"alice": {"channels"}, "bob": {"cps"}})

    assert statuses == [200] * 60
    assert lost == [], f"{len(lost)} of 30 rounds lost an update"
    assert audit == [], f"{len(audit)} audit entries name fields their user did not send"


@pytest.mark.django_db(transaction=True)
def test_bulk_patches_naming_the_same_rows_in_opposite_orders_never_fail():
    customers = [make_customer() for _ in range(3)]
    ids = [customer.pk for customer in customers]
    alice, bob = _api_client(_operator("alice")), _api_client(_operator("bob"))
    assert alice.get(API).status_code == 200  # code loaded before the threads, as in a server
    statuses, lost = [], []

    for round_ in range(1, 21):
        forward = [{"id": pk, "channels": round_} for pk in ids]
        backward = [{"id": pk, "cps": round_} for pk in reversed(ids)]
        results = _together(
            lambda data=forward: alice.patch(API, data, format="json"),
            lambda data=backward: bob.patch(API, data, format="json"),
        )
        statuses += [getattr(result, "status_code", repr(result)) for result in results]
        stored = list(Customer.objects.filter(pk__in=ids).order_by("pk").values_list("channels", "cps"))
        if stored != [(round_, round_)] * 3:
            lost.append(f"round {round_}: {stored}")

    assert statuses == [200] * 40, f"{sum(status != 200 for status in statuses)} of 40 bulk edits failed"
    assert lost == [], f"{len(lost)} of 20 rounds lost an update"


class _FormFields(HTMLParser):
    """What a browser submits from the page's edit form: enabled inputs, checked boxes, selected options."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        name = attr.get("name")
        if not name or "disabled" in attr or name == "csrfmiddlewaretoken":
            if tag == "option" and self._select and "selected" in attr:
                self._add(self._select, attr.get("value", ""))
            return
        if tag == "input":
            if attr.get("type") in ("checkbox", "radio") and "checked" not in attr:
                return
            self._add(name, attr.get("value", "on" if attr.get("type") == "checkbox" else ""))
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            self._add(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data.lstrip("\n") if not self.data[self._textarea][-1] else data


def _edit_form(client: Client, url: str) -> dict[str, list[str]]:
    response = client.get(url)
    assert response.status_code == 200
    parser = _FormFields()
    parser.feed(response.content.decode())
    return parser.data


@pytest.mark.django_db(transaction=True)
def test_two_operators_editing_one_customer_in_the_panel_keep_both_changes():
    customer = make_customer(channels=0, cps=0, city="Dallas")
    url = f"/customers/{customer.pk}/edit/"
    alice, bob = Client(), Client()
    alice.force_login(_operator("alice"))
    bob.force_login(_operator("bob"))
    lost, statuses, audit = [], [], []

    for round_ in range(1, 6):
        since = _last_change_id()
        # Both open the form before either saves, as two people at two desks would.
        alice_form, bob_form = _edit_form(alice, url), _edit_form(bob, url)
        alice_form["channels"] = [str(10 + round_)]
        bob_form["cps"] = [str(20 + round_)]
        statuses += _together(lambda data=alice_form: alice.post(url, data).status_code,
                              lambda data=bob_form: bob.post(url, data).status_code)
        stored = Customer.objects.values("channels", "cps", "city").get(pk=customer.pk)
        if stored != {"channels": 10 + round_, "cps": 20 + round_, "city": "Dallas"}:
            lost.append(f"round {round_}: {stored}")
        audit += _audit_problems(customer, since, {"alice": {"channels"}, "bob": {"cps"}})

    assert statuses == [302] * 10
    assert lost == [], f"{len(lost)} of 5 rounds lost an update"
    assert audit == [], f"{len(audit)} audit entries name fields their user did not send"


def test_a_form_drawn_before_another_save_changes_only_what_its_operator_changed(db):
    customer = make_customer(channels=5, cps=5, city="Dallas")
    url = f"/customers/{customer.pk}/edit/"
    alice, bob = Client(), Client()
    alice.force_login(_operator("alice"))
    bob.force_login(_operator("bob"))
    alice_form, bob_form = _edit_form(alice, url), _edit_form(bob, url)
    bob_form["city"] = ["Austin"]
    assert bob.post(url, bob_form).status_code == 302
    alice_form["channels"] = ["7"]

    assert alice.post(url, alice_form).status_code == 302

    assert Customer.objects.values("channels", "cps", "city").get(pk=customer.pk) == {
        "channels": 7, "cps": 5, "city": "Austin"}
    last = ObjectChange.objects.filter(object_type__model="customer", object_id=customer.pk).latest("pk")
    assert (last.user_name, last.prechange_data["channels"], last.postchange_data["channels"]) == ("alice", 5, 7)
    assert _changed_fields(last) == {"channels"}


def test_a_form_shown_again_with_an_error_keeps_what_the_operator_typed(db):
    customer = make_customer(channels=5, city="Dallas")
    url = f"/customers/{customer.pk}/edit/"
    alice = Client()
    alice.force_login(_operator("alice"))
    form = _edit_form(alice, url)
    form["city"] = ["Austin"]
    form["channels"] = ["many"]

    response = alice.post(url, form)

    assert response.status_code == 200
    shown = _FormFields()
    shown.feed(response.content.decode())
    assert (shown.data["city"], shown.data["channels"]) == (["Austin"], ["many"])
    assert Customer.objects.values_list("channels", "city").get(pk=customer.pk) == (5, "Dallas")


def test_the_settings_page_drawn_before_an_api_change_keeps_it(db):
    with change_context(source="test"):
        admin = User.objects.create_user(username="root", password=PASSWORD, role=User.Role.ADMIN)
    web = Client()
    web.force_login(admin)
    page = _edit_form(web, "/setup/settings/")
    api = _api_client(admin)
    assert api.patch("/api/v1/settings/", {"company_name": "Acme Carrier"}, format="json").status_code == 200
    page["smtp_host"] = ["smtp.acme.example"]

    assert web.post("/setup/settings/", page).status_code == 302

    assert SystemSettings.objects.values_list("company_name", "smtp_host").get() == ("Acme Carrier",
                                                                                    "smtp.acme.example")


def test_a_password_reset_from_an_older_read_keeps_a_later_change_of_the_contact(db):
    contact = make_contact(name="Ann")
    stale = Contact.objects.get(pk=contact.pk)  # read by the reset request before another client's change
    api = _api_client(_operator("bob"))
    assert api.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Anna"}, format="json").status_code == 200

    with change_context(source="test"):
        contact_reset_password(contact=stale, password="Quartz-Lantern-Mosaic-58")

    assert Contact.objects.get(pk=contact.pk).name == "Anna"
    entry = ObjectChange.objects.filter(object_type__model="contact", object_id=contact.pk).latest("pk")
    assert (entry.prechange_data["name"], entry.postchange_data["name"]) == ("Anna", "Anna")
    assert (entry.prechange_data["password"], entry.postchange_data["password"]) == ("********",
                                                                                     "******** (changed)")


def test_a_save_writes_only_the_fields_changed_since_the_instance_was_read(db):
    customer = make_customer(channels=1, cps=1, tags=["vip"])
    stale = Customer.objects.get(pk=customer.pk)
    with change_context(source="test"):
        Customer.objects.filter(pk=customer.pk).update(cps=9)  # another writer, after this instance was read
        stale.channels = 2
        stale.tags.append("wholesale")  # changed in place: still a change
        stale.save()

    assert Customer.objects.values_list("channels", "cps", "tags").get(pk=customer.pk) == (2, 9,
                                                                                          ["vip", "wholesale"])
    entry = ObjectChange.objects.filter(object_type__model="customer", object_id=customer.pk).latest("pk")
    assert _changed_fields(entry) == {"channels", "tags"}
    assert entry.postchange_data["cps"] == 9


def test_a_save_without_a_change_writes_nothing(db):
    customer = make_customer(channels=1)
    updated = Customer.objects.values_list("updated", flat=True).get(pk=customer.pk)
    entries = ObjectChange.objects.count()
    with change_context(source="test"):
        Customer.objects.get(pk=customer.pk).save()

    assert Customer.objects.values_list("updated", flat=True).get(pk=customer.pk) == updated
    assert ObjectChange.objects.count() == entries


@pytest.mark.django_db(transaction=True)
def test_bulk_patches_of_sip_users_whose_customers_come_in_opposite_orders_never_fail():
    # Saving a SIP user locks its customer (the channel capacity check): users of customers x, y beside users of
    # y, x would take those locks in opposite orders.
    x, y = make_customer(), make_customer()
    first = [make_sip_user(x, username="u1").pk, make_sip_user(y, username="u2").pk]
    second = [make_sip_user(y, username="u3").pk, make_sip_user(x, username="u4").pk]
    alice, bob = _api_client(_operator("alice")), _api_client(_operator("bob"))
    assert alice.get("/api/v1/sip-users/").status_code == 200  # code loaded before the threads, as in a server
    statuses = []

    for round_ in range(1, 21):
        results = _together(
            lambda r=round_: alice.patch("/api/v1/sip-users/", [{"id": pk, "channels": r} for pk in first],
                                         format="json"),
            lambda r=round_: bob.patch("/api/v1/sip-users/", [{"id": pk, "cps": r} for pk in second], format="json"),
        )
        statuses += [getattr(result, "status_code", repr(result)) for result in results]

    assert statuses == [200] * 40, f"{sum(status != 200 for status in statuses)} of 40 bulk edits failed"
