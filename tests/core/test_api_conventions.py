"""What a new API client trips on (issue 9, item 6): unknown paths and query parameters answer the error format,
/simulate/ documents its answer, and codes ISO 4217 keeps for things other than money are refused as currencies."""

from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.factories import make_customer
from tests.routing.helpers import SIMULATE_IP, make_card, simulate_world
from trunkline.audit.models import ObjectChange
from trunkline.core.validators import CURRENCY_CHOICES
from trunkline.customers.models import Customer
from trunkline.routing.models import RateCard

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found.", "errors": {}}


@pytest.fixture
def admin_api(api_for, admin_user) -> APIClient:
    return api_for(admin_user)


@pytest.fixture
def schema(admin_api) -> dict[str, Any]:
    return admin_api.get("/api/v1/schema/?format=json").json()


#
# Unknown paths
#


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/customers/1/nope/", "/api/v2/customers/", "/api/"])
def test_an_unknown_api_path_answers_the_error_format_even_with_debug_on(admin_api, path, debug) -> None:
    # DEBUG shows Django's HTML technical 404 instead of handler404: the API's own catch-all answers first.
    with override_settings(DEBUG=debug):
        response = admin_api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_a_path_without_its_trailing_slash_is_redirected_for_reads_and_named_for_writes(api_for, admin_user) -> None:
    client = api_for(admin_user)
    assert client.get("/api/v1/customers?limit=1").headers["Location"] == "/api/v1/customers/?limit=1"
    written = client.post("/api/v1/customers", {"name": "Acme", "currency": "USD"}, format="json")
    assert written.status_code == 404
    assert written.json() == {"detail": "Not found. The URL ends with a slash: /api/v1/customers/", "errors": {}}
    unknown = client.post("/api/v1/nope", {}, format="json")
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)
    assert not Customer.objects.exists()


def test_a_post_to_an_unknown_path_by_a_session_without_csrf_token_is_still_a_json_404(operator_user) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator_user)
    response = client.post("/api/v1/nope/", {})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


#
# Unknown query parameters
#


def test_an_unknown_filter_is_a_400_naming_it(admin_api) -> None:
    make_customer(name="Acme", status="active")
    response = admin_api.get("/api/v1/customers/?staus=active&name=Acme&colour=red")
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"staus", "colour"}
    message = body["errors"]["staus"][0]
    assert message.startswith("Unknown query parameter 'staus'. This list filters by ")
    assert " status, " in message and message.endswith("it also takes format, limit, offset, ordering.")
    assert body["detail"] == f"staus: {message}"


def test_lists_keep_their_paging_ordering_search_and_format_parameters(admin_api) -> None:
    make_customer(name="Acme")
    response = admin_api.get("/api/v1/customers/?limit=1&offset=0&ordering=-name&q=acm&format=json&status=active")
    assert response.status_code == 200, response.json()
    assert [row["name"] for row in response.json()["results"]] == ["Acme"]


def test_a_list_without_a_filter_set_still_refuses_unknown_parameters(admin_api) -> None:
    response = admin_api.get("/api/v1/jobs/?status=failed&limit=5")
    assert response.status_code == 200
    refused = admin_api.get("/api/v1/audit-log/?objet_type=customer")
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"objet_type"}


def test_details_and_actions_read_their_own_parameters(admin_api) -> None:
    customer = make_customer()
    assert admin_api.get(f"/api/v1/customers/{customer.pk}/?expand=1").status_code == 200
    card = make_card()
    export = admin_api.get(f"/api/v1/rate-cards/{card.pk}/export/?revision=9")
    assert export.json()["errors"] == {"revision": ["The card has no revision 9."]}


def _list_operations(schema: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path or get["responses"].get("200", {}).get("content") is None:
            continue
        body = get["responses"]["200"]["content"].get("application/json", {}).get("schema", {})
        if body.get("$ref", "").split("/")[-1].startswith("Paginated"):
            found.append((path, [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]))
    return found


def test_every_query_parameter_the_schema_documents_for_a_list_is_accepted(admin_api, schema) -> None:
    lists = _list_operations(schema)
    assert len(lists) >= 15
    for path, names in lists:
        assert {"limit", "offset"} <= set(names), path
        for name in names:
            response = admin_api.get(f"{path}?{name}=")
            # An empty value may be a bad one (a choice filter): never an unknown parameter.
            assert response.status_code == 200 or "Unknown query parameter" not in response.json()["detail"], (
                path, name, response.json())
        assert admin_api.get(f"{path}?no_such_filter=1").status_code == 400, path


#
# /simulate/ in the schema
#


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node or "allOf" in node:
        if "allOf" in node:
            node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = {**schema["components"]["schemas"][node["$ref"].split("/")[-1]], **rest}
    return node


def _conforms(schema: dict[str, Any], node: dict[str, Any], value: Any, where: str) -> None:
    node = _resolve(schema, node)
    if value is None:
        assert node.get("nullable"), f"{where} is null but not nullable"
        return
    if isinstance(value, dict):
        assert node.get("type") == "object", where
        properties = node.get("properties", {})
        assert set(value) <= set(properties), f"{where}: {set(value) - set(properties)}"
        assert set(node.get("required", ())) <= set(value), where
        for key, item in value.items():
            _conforms(schema, properties[key], item, f"{where}.{key}")
    elif isinstance(value, list):
        assert node.get("type") == "array", where
        for index, item in enumerate(value):
            _conforms(schema, node["items"], item, f"{where}[{index}]")
    else:
        expected = {bool: "boolean", int: "integer", str: "string"}[type(value)]
        assert node.get("type") == expected, f"{where}: {node.get('type')} for {value!r}"


def test_simulate_documents_its_request_and_answer(api, schema) -> None:
    operation = schema["paths"]["/api/v1/simulate/"]["post"]
    request = _resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    assert {"dst", "cli", "ip"} <= set(request["required"])
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/SimulateResult"}
    simulate_world()
    routed = api.post("/api/v1/simulate/", {"dst": "447700900123", "cli": "12025550143", "ip": SIMULATE_IP},
                      format="json").json()
    refused = api.post("/api/v1/simulate/", {"dst": "447700900123", "cli": "", "ip": "203.0.113.99"},
                       format="json").json()
    assert (routed["routed"], refused["routed"]) == (True, False)
    assert routed["egress"] and refused["customer"] is None
    _conforms(schema, answer, routed, "routed")
    _conforms(schema, answer, refused, "refused")


#
# Currencies that are no money
#


def test_the_currency_lists_leave_out_codes_that_are_no_money() -> None:
    codes = {code for code, _ in CURRENCY_CHOICES}
    assert {"USD", "EUR", "XAF", "XOF", "XCD", "XPF", "CHF", "CLP"} <= codes
    assert not codes & {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XSU", "XUA", "CLF", "USN", "CHE"}


@pytest.mark.parametrize(("code", "why"), [
    ("XXX", "transactions where no currency is involved"),
    ("XTS", "testing"),
    ("XAU", "a precious metal"),
    ("XDR", "a unit of account between institutions"),
    ("XBA", "a bond-market unit of account"),
    ("CLF", "a fund (an indexed or settlement unit)"),
])
def test_a_code_that_is_no_money_is_refused_as_a_currency_naming_the_field(admin_api, code, why) -> None:
    message = f"{code} is not a currency to bill in: ISO 4217 keeps it for {why}. Use a currency such as USD, EUR " \
              f"or GBP."
    before = ObjectChange.objects.count()
    customer = admin_api.post("/api/v1/customers/", {"name": "Acme", "currency": code}, format="json")
    card = admin_api.post("/api/v1/rate-cards/", {"name": "Retail", "kind": "customer", "currency": code},
                          format="json")
    imported = admin_api.post("/api/v1/customers/import/", f"name,currency\nAcme,{code}\n", content_type="text/csv")
    for response in (customer, card):
        assert response.status_code == 400
        assert response.json() == {"detail": f"currency: {message}", "errors": {"currency": [message]}}
    assert imported.json()["errors"] == {"row 2": {"currency": [message]}}
    assert not Customer.objects.exists() and not RateCard.objects.exists()
    assert ObjectChange.objects.count() == before
