"""core.changelog's change observers: every change the audit log records is told to them, with the fields it
changed (a masked secret and a many-to-many list included), once per model for a bulk create, and never for a
save that changed nothing."""

from typing import Any

import pytest

from tests.factories import make_customer
from tests.routing.helpers import make_card
from tests.sipauth.factories import make_sip_user
from trunkline.core import changelog
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import RateCard
from trunkline.routing.services.ratecards import rate_card_save
from trunkline.sipauth.services import sip_user_save

pytestmark = pytest.mark.django_db


Told = list[tuple[str, int | None, str, frozenset[str] | None]]


@pytest.fixture
def told(monkeypatch) -> Told:
    """What an observer registered now is told: the model's name, the instance's id then (None for a model),
    the action and the fields. The apps' own observers stay registered."""
    calls: Told = []

    def observer(subject: Any, action: str, fields: frozenset[str] | None) -> None:
        if isinstance(subject, type):
            calls.append((subject.__name__, None, action, fields))
        else:
            calls.append((type(subject).__name__, subject.pk, action, fields))

    monkeypatch.setattr(changelog, "_observers", list(changelog._observers))
    changelog.register_change_observer(observer)
    return calls


def test_a_create_an_update_and_a_delete_are_told_with_the_fields_changed(told: Told) -> None:
    with change_context(source="test"):
        customer = Customer(name="Acme Telecom", currency="USD")
        customer.save()
        customer.notes, customer.channels = "Pays late.", 30
        customer.save()
        customer.save()  # nothing changed: no entry, nothing told
        pk = customer.pk
        customer.delete()
    assert told == [
        ("Customer", pk, "create", None),
        ("Customer", pk, "update", frozenset({"notes", "channels"})),
        ("Customer", pk, "delete", None),
    ]


def test_a_masked_secret_and_a_link_list_count_as_changed_fields(told: Told) -> None:
    user = make_sip_user()
    provider_card = make_card(kind="provider", name="Carrier A")
    card = make_card(name="Retail")
    told.clear()
    with change_context(source="test"):
        sip_user_save(user=user, password="Another-Secret-58")
        rate_card_save(card=RateCard.objects.get(pk=card.pk), egress_cards=[provider_card])
    assert told == [
        ("SipUser", user.pk, "update", frozenset({"ha1"})),
        ("RateCard", card.pk, "update", frozenset({"egress_cards"})),
    ]


def test_a_bulk_create_is_told_once_per_model(api, told: Told) -> None:
    make_customer(name="Existing")
    told.clear()
    lines = "".join(f"Carrier {number:03d},USD\n" for number in range(30))
    response = api.post("/api/v1/customers/import/", ("name,currency\n" + lines).encode(), content_type="text/csv")
    assert response.status_code == 200, response.content
    assert told == [("Customer", None, "create", None)]


def test_an_observer_is_registered_once() -> None:
    def observer(subject: Any, action: str, fields: frozenset[str] | None) -> None:
        raise AssertionError("not called")

    before = list(changelog._observers)
    try:
        changelog.register_change_observer(observer)
        changelog.register_change_observer(observer)
        assert changelog._observers == [*before, observer]
    finally:
        changelog._observers[:] = before
