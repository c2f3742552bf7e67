"""Control characters (CR LF and the rest) are refused in single-line fields by one validator on the model
fields, so the API, the control-panel forms and CSV imports all refuse them with the same message, naming the
field, and write nothing. Multi-line fields (notes, message bodies) keep their line breaks."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import models

from tests.factories import CONTACT_PASSWORD, make_customer
from tests.routing.helpers import make_card, make_provider
from tests.sipauth.factories import make_ip_auth
from trunkline.audit.models import ObjectChange
from trunkline.core.models import SystemSettings
from trunkline.core.validators import reject_control_characters
from trunkline.customers.models import Contact, Customer
from trunkline.routing.models import Provider, RateCard, RateImport, RateRevision
from trunkline.sipauth.models import IpAuth, ParameterRewrite

BAD = "Acme\r\nBcc: x@y"
MESSAGE = "Control characters (such as line breaks) are not allowed here."


@pytest.mark.parametrize("value", [BAD, "a\nb", "a\rb", "a\tb", "a\x00b", "a\x1bb", "a\x7fb", "a\x85b",
                                   "a\u2028b", "a\u2029b"])
def test_the_validator_refuses_control_characters(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        reject_control_characters(value)
    assert (raised.value.messages, raised.value.code) == ([MESSAGE], "control_characters")


@pytest.mark.parametrize("value", ["", "Acme Telecom", "AT&T <Wholesale> — Zoë O'Brien", "東京 +44 (0)20", "a\u00a0b"])
def test_the_validator_accepts_printable_text(value: str) -> None:
    reject_control_characters(value)


def _customer_pk() -> int:
    return make_customer(name="Owner").pk


# (API list URL, the payload of a valid create, the field that gets BAD, the model written)
CREATES: list[tuple[str, Callable[[], dict[str, Any]], str, type[models.Model]]] = [
    ("/api/v1/customers/", lambda: {"name": "Acme", "currency": "USD"}, "name", Customer),
    ("/api/v1/customers/", lambda: {"name": "Acme", "currency": "USD"}, "address_line1", Customer),
    ("/api/v1/customers/", lambda: {"name": "Acme", "currency": "USD"}, "city", Customer),
    ("/api/v1/contacts/", lambda: {"customer": _customer_pk(), "name": "Ann", "email": "ann@acme.example",
                                   "password": CONTACT_PASSWORD}, "name", Contact),
    ("/api/v1/providers/", lambda: {"name": "Carrier"}, "name", Provider),
    ("/api/v1/rate-cards/", lambda: {"name": "Retail", "kind": "customer", "currency": "USD"}, "name", RateCard),
    ("/api/v1/ip-auth/", lambda: {"customer": _customer_pk(), "ip": "203.0.113.9"}, "force_from", IpAuth),
    ("/api/v1/ip-auth/", lambda: {"customer": _customer_pk(), "ip": "203.0.113.9"}, "username", IpAuth),
]


@pytest.mark.parametrize(("url", "payload", "field", "model"), CREATES,
                         ids=[f"{url.split('/')[3]}-{field}" for url, _, field, _ in CREATES])
def test_the_api_refuses_a_create_and_writes_nothing(api, url: str, payload: Callable[[], dict[str, Any]],
                                                     field: str, model: type[models.Model]) -> None:
    data = {**payload(), field: BAD}
    before = (model.objects.count(), ObjectChange.objects.count())

    response = api.post(url, data, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": f"{field}: {MESSAGE}", "errors": {field: [MESSAGE]}}
    assert (model.objects.count(), ObjectChange.objects.count()) == before
    # The same payload without the control characters is accepted: the refusal is about them alone.
    assert api.post(url, {**data, field: "Acme Bcc x@y"}, format="json").status_code == 201


def test_the_api_refuses_an_update_and_keeps_the_record(api) -> None:
    customer = make_customer(name="Acme Telecom")
    rewrite_owner = make_ip_auth(customer=customer)
    before = ObjectChange.objects.count()

    response = api.patch(f"/api/v1/customers/{customer.pk}/", {"name": BAD}, format="json")
    assert (response.status_code, response.json()) == (400, {"detail": f"name: {MESSAGE}",
                                                             "errors": {"name": [MESSAGE]}})
    response = api.post("/api/v1/parameter-rewrites/", {"ip_auth": rewrite_owner.pk, "match": "44",
                                                        "replace": "0\r\nX-Evil: 1"}, format="json")
    assert (response.status_code, response.json()["errors"]) == (400, {"replace": [MESSAGE]})

    customer.refresh_from_db()
    assert customer.name == "Acme Telecom"
    assert ParameterRewrite.objects.count() == 0
    assert ObjectChange.objects.count() == before


def test_settings_refuse_a_company_name_with_a_line_break(api_for, admin_user) -> None:
    admin = api_for(admin_user)
    response = admin.patch("/api/v1/settings/", {"company_name": "Trunk\r\nBcc: x@y", "smtp_host": "mail\r\nhost"},
                           format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"company_name": [MESSAGE], "smtp_host": [MESSAGE]}
    assert SystemSettings.load().company_name == ""


def test_multi_line_fields_keep_their_line_breaks(api) -> None:
    response = api.post("/api/v1/customers/", {"name": "Acme", "currency": "USD", "notes": "Pays late.\r\nCall Ann.",
                                               "vars": "[cli]\npersist = true\n"}, format="json")
    assert response.status_code == 201, response.json()
    assert Customer.objects.get().notes == "Pays late.\r\nCall Ann."
    provider = api.post("/api/v1/providers/", {"name": "Carrier", "notes": "Line 1\nLine 2\twith a tab"},
                        format="json")
    assert provider.status_code == 201, provider.json()


def test_the_customer_form_refuses_a_name_with_a_line_break(web) -> None:
    data = {"name": BAD, "status": "active", "currency": "USD", "debit_limit": "0", "minimum_payment": "0",
            "tax_rate": "0", "channels": "0", "cps": "0"}
    changes = ObjectChange.objects.count()
    response = web.post("/customers/add/", data)
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert (Customer.objects.count(), ObjectChange.objects.count()) == (0, changes)

    customer = make_customer(name="Acme Telecom")
    response = web.post(f"/customers/{customer.pk}/edit/", data)
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    customer.refresh_from_db()
    assert customer.name == "Acme Telecom"


def test_the_provider_form_refuses_a_name_with_a_line_break(web) -> None:
    provider = make_provider(name="Carrier")
    response = web.post(f"/routing/providers/{provider.pk}/edit/", {"name": "Carrier\nTwo", "status": "active",
                                                                   "gateways": "", "channels": "0", "cps": "0"})
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    provider.refresh_from_db()
    assert provider.name == "Carrier"


def test_a_customer_import_refuses_the_row_and_imports_nothing(api) -> None:
    before = (Customer.objects.count(), ObjectChange.objects.count())
    response = api.post("/api/v1/customers/import/", b'name,currency\nGood,USD\n"Acme\r\nBcc: x@y",USD\n',
                        content_type="text/csv")
    assert response.status_code == 400
    assert response.json() == {"detail": "1 row with errors; nothing was imported.",
                               "errors": {"row 3": {"name": [MESSAGE]}}}
    assert (Customer.objects.count(), ObjectChange.objects.count()) == before


def test_a_rate_import_refuses_a_note_with_a_line_break(api, web) -> None:
    card = make_card(name="Retail", kind="customer", currency="USD")
    deck = "prefix,name,rate\n44,UK,0.01\n"
    before = (RateRevision.objects.count(), RateImport.objects.count(), ObjectChange.objects.count())

    response = api.post(f"/api/v1/rate-cards/{card.pk}/import/", {"csv": deck, "note": "Q3\r\nBcc: x@y"},
                        format="json")
    assert (response.status_code, response.json()["errors"]) == (400, {"note": [MESSAGE]})
    response = web.post(f"/routing/rate-cards/{card.pk}/import/", {"csv": deck, "start_row": "2", "note": "Q3\nx",
                                                                  "columns": "prefix,name,rate", "_import": "1"})
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert (RateRevision.objects.count(), RateImport.objects.count(), ObjectChange.objects.count()) == before
