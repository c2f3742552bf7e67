"""The customer card's Routing tab: ingress routes and CLI rules (add, edit, delete, audit), the Generate button, and
the CLI Testing box on the mission page's "Advanced CLI Match & Manipulation" table."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tests.factories import make_customer
from tests.routing.helpers import make_card
from trunkline.audit.models import ObjectChange
from trunkline.core import cardtabs
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import CliRule, IngressRoute, RateCard
from trunkline.routing.services.routes import ingress_route_save

ROUTE_FORM = {"rate_card": "", "tech_prefix": "123#", "dial_string": "^44", "enabled": "on", "channels": "20",
              "cps": "5", "max_duration": "3600", "recording": "5", "capped_rate": "0.05",
              "provider_capped_rate": "", "strategy": "lcr", "public_notes": "UK only", "private_notes": ""}
CLI_FORM = {"cli": "^1234", "pai": "", "rewrite_cli": "", "rewrite_pai": "", "direction": "outbound",
            "dialed_number_match": "", "use_did": "disabled", "notes": "UK CLIs"}


def _tab(customer_id: int) -> str:
    return reverse("customer_routing:routing_tab", args=[customer_id])


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom")


@pytest.fixture
def cards(db) -> dict[str, RateCard]:
    one, two = make_card(kind="provider", name="Carrier One"), make_card(kind="provider", name="Carrier Two")
    stray = make_card(kind="provider", name="Stray Carrier")
    sell = make_card(name="Acme Sell", egress_cards=[one, two])
    return {"sell": sell, "one": one, "two": two, "stray": stray}


def _route(customer: Customer, card: RateCard, **fields: Any) -> IngressRoute:
    with change_context(source="test"):
        return ingress_route_save(route=IngressRoute(customer=customer, rate_card=card, **fields))


def _rule(customer: Customer, **fields: Any) -> CliRule:
    with change_context(source="test"):
        rule = CliRule(customer=customer, **fields)
        rule.full_clean()
        rule.save()
    return rule


def test_tab_order(viewer_user) -> None:
    assert [tab.label for tab in cardtabs.tabs_for(viewer_user)] == ["Main", "Auth", "Routing", "Stats",
                                                                     "Latest Calls", "Dialogs", "Ledger", "CDR",
                                                                     "Audit Log"]


def test_tab_lists_routes_disabled_in_red_and_rules(web: Client, acme, cards) -> None:
    _route(acme, cards["sell"], tech_prefix="11#", dial_string="^44")
    _route(acme, cards["sell"], tech_prefix="22#", enabled=False)
    _route(acme, cards["sell"], tech_prefix="33#", strategy="weighted", weights={str(cards["two"].pk): 7})
    _route(make_customer(name="Other"), cards["sell"], tech_prefix="99#")
    _rule(acme, cli="^0([1-9]+)$", rewrite_cli=r"44\1")
    body = web.get(_tab(acme.pk)).content.decode()
    assert '<div>Weights: <span class="tag">Carrier Two × 7</span></div>' in body
    assert 'aria-current="page">Routing</a>' in body
    assert "11#" in body and "22#" in body and "99#" not in body
    assert body.count('class="row-disabled"') == 1
    assert "^0([1-9]+)$" in body and r"44\1" in body
    examples = body.split('data-testid="cli-examples"')[1]
    assert "^[0-9]{11,12}$" in examples and "Remove leading 0 and replace with 44" in examples


def test_add_edit_delete_route_with_audit(web: Client, acme, cards) -> None:
    add = reverse("customer_routing:ingressroute_add", args=[acme.pk])
    form = web.get(add).content.decode()
    assert "Carrier One" in form and "Stray Carrier" not in form  # lock/exclude: the card's egress cards only
    response = web.post(add, {**ROUTE_FORM, "rate_card": cards["sell"].pk, "lock": [cards["one"].pk]})
    assert response.status_code == 302 and response["Location"] == _tab(acme.pk)
    route = IngressRoute.objects.get(customer=acme)
    assert (route.tech_prefix, route.recording, route.channels) == ("123#", "5", 20)
    assert list(route.lock.all()) == [cards["one"]]
    created = ObjectChange.objects.get(object_type__model="ingressroute", action="create", source="web")
    assert created.postchange_data["lock"] == [cards["one"].pk]

    edit = reverse("customer_routing:ingressroute_edit", args=[acme.pk, route.pk])
    data = {**ROUTE_FORM, "rate_card": cards["sell"].pk, "exclude": [cards["two"].pk], "channels": "30"}
    del data["enabled"]  # unticked
    response = web.post(edit, data)
    assert response["Location"] == _tab(acme.pk)
    route.refresh_from_db()
    assert route.channels == 30 and not route.enabled
    assert list(route.lock.all()) == [] and list(route.exclude.all()) == [cards["two"]]
    update = ObjectChange.objects.get(object_type__model="ingressroute", action="update", source="web")
    assert update.prechange_data["channels"] == 20 and update.postchange_data["channels"] == 30

    confirm = web.get(reverse("customer_routing:ingressroute_delete", args=[acme.pk, route.pk])).content.decode()
    assert f'<a class="btn" href="{_tab(acme.pk)}">Cancel</a>' in confirm
    response = web.post(reverse("customer_routing:ingressroute_delete", args=[acme.pk, route.pk]))
    assert response["Location"] == _tab(acme.pk)
    assert not IngressRoute.objects.exists()
    assert ObjectChange.objects.filter(object_type__model="ingressroute", action="delete", source="web").exists()


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"tech_prefix": "11#"}, "tech_prefix", "already uses tech prefix 11#"),
    ({"dial_string": "^(44"}, "dial_string", "missing )"),
    ({"lock": "stray"}, "lock", "Select a valid choice"),
])
def test_route_validation_error_on_its_field_writes_nothing(web: Client, acme, cards, change, field,
                                                            message) -> None:
    _route(acme, cards["sell"], tech_prefix="11#")
    before = ObjectChange.objects.count()
    data = {**ROUTE_FORM, "rate_card": cards["sell"].pk, **change}
    if "lock" in change:
        # Not an egress card of Acme Sell, so not offered: posted as a crafted request would.
        data["lock"] = [cards["stray"].pk]
    response = web.post(reverse("customer_routing:ingressroute_add", args=[acme.pk]), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors and message in " ".join(form.errors[field])
    assert IngressRoute.objects.filter(customer=acme).count() == 1
    assert ObjectChange.objects.count() == before


def test_rate_card_in_another_currency_is_refused(web: Client, acme, cards) -> None:
    euro = make_card(name="Euro Sell", currency="EUR")
    response = web.post(reverse("customer_routing:ingressroute_add", args=[acme.pk]),
                        {**ROUTE_FORM, "rate_card": euro.pk})
    assert "rate_card" in response.context["form"].errors
    assert not IngressRoute.objects.exists()


def test_generate_fills_the_tech_prefix_and_saves_nothing(web: Client, acme, cards) -> None:
    response = web.post(reverse("customer_routing:ingressroute_add", args=[acme.pk]),
                        {**ROUTE_FORM, "rate_card": cards["sell"].pk, "tech_prefix": "", "channels": "7",
                         "_generate_tech_prefix": "1"})
    assert response.status_code == 200
    form = response.context["form"]
    prefix = form.initial["tech_prefix"]
    assert len(prefix) == 5 and prefix.endswith("#") and prefix[:4].isdigit()
    assert form.initial["channels"] == "7" and not form.errors
    assert f'value="{prefix}"' in response.content.decode()
    assert not IngressRoute.objects.exists()


def test_add_edit_delete_cli_rule_with_audit(web: Client, acme) -> None:
    response = web.post(reverse("customer_routing:clirule_add", args=[acme.pk]), CLI_FORM)
    assert response["Location"] == _tab(acme.pk)
    rule = CliRule.objects.get(customer=acme)
    web.post(reverse("customer_routing:clirule_edit", args=[acme.pk, rule.pk]), {**CLI_FORM, "cli": "789$"})
    rule.refresh_from_db()
    assert rule.cli == "789$"
    web.post(reverse("customer_routing:clirule_delete", args=[acme.pk, rule.pk]))
    assert not CliRule.objects.exists()
    actions = list(ObjectChange.objects.filter(object_type__model="clirule", source="web")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "update", "delete"]


def test_cli_rule_error_on_its_field(web: Client, acme) -> None:
    response = web.post(reverse("customer_routing:clirule_add", args=[acme.pk]),
                        {**CLI_FORM, "cli": "^1", "forced": "on"})
    assert "must be a plain number" in " ".join(response.context["form"].errors["forced"])
    assert not CliRule.objects.exists()


def _box(client: Client, customer: Customer, **query: str) -> str:
    body = client.get(_tab(customer.pk), {"test_cli": "1", "direction": "outbound", **query}).content.decode()
    return body.split('data-testid="cli-result"')[1].split("</section>")[0]


@pytest.mark.parametrize(("number", "pattern", "replace", "passes", "presented"), [
    ("123456789", "^1234", "", True, "123456789"),
    ("123456789", "789$", "", True, "123456789"),
    ("12345678912", "^[0-9]{11,12}$", "", True, "12345678912"),
    ("+123456789", r"^\+([0-9]+)$", r"\1", True, "123456789"),
    ("01782123456", "^0([1-9]+)$", r"44\1", True, "441782123456"),
    ("987654321", "^1234", "", False, "987654321"),
    ("1234567", "^[0-9]{11,12}$", "", False, "1234567"),
])
def test_cli_testing_box_on_the_mission_table(viewer_user, acme, number, pattern, replace, passes,
                                              presented) -> None:
    rule = _rule(acme, cli=pattern, rewrite_cli=replace)
    client = Client()
    client.force_login(viewer_user)  # the box writes nothing: every role may use it
    result = _box(client, acme, cli=number, dialed="4420712345")
    if passes:
        assert "Allowed" in result and f"#{rule.pk} <code>" in result
    else:
        assert "403 CLI restriction in effect" in result
        assert '<dd data-testid="cli-rule"><span class="muted">None</span>' in result
    assert f'data-testid="cli-presented">{presented}<' in result
    assert 'data-testid="cli-trace">' in result


def test_cli_testing_box_names_a_saved_rule_re2_refuses(web: Client, acme) -> None:
    rule = _rule(acme, cli="^1")
    CliRule.objects.filter(pk=rule.pk).update(cli="^1(?!800)")  # saved before patterns were RE2 syntax
    response = web.get(_tab(acme.pk), {"test_cli": "1", "direction": "outbound", "cli": "1555"})
    message = (f"A saved rule cannot be loaded: CLI rule #{rule.pk} cli: look-ahead is not supported (RE2 syntax) "
               f"in '^1(?!800)'")
    assert response.status_code == 200
    assert (f'<div class="errorlist-block" role="alert" data-testid="cli-error">{escape(message)}</div>'
            in response.content.decode())
    assert 'data-testid="cli-result"' not in response.content.decode()


def test_cli_testing_box_inputs_are_bounded(web: Client, acme) -> None:
    response = web.get(_tab(acme.pk), {"test_cli": "1", "direction": "outbound", "cli": "1" * 65})
    assert response.context["cli_form"].errors == {"cli": ["Ensure this value has at most 64 characters (it has 65)."]}
    assert 'data-testid="cli-result"' not in response.content.decode()


def test_cli_testing_box_matches_the_api(web: Client, acme) -> None:
    _rule(acme, cli="^44")
    _rule(acme, cli="442079460000", forced=True)
    result = _box(web, acme, cli="0033123", pai="")
    api = web.post(reverse("api:clirule-evaluate"), {"customer": acme.pk, "cli": "0033123", "dialed": ""},
                   content_type="application/json").json()
    assert api["allowed"] and api["forced"] and api["cli"] == "442079460000"
    assert 'data-testid="cli-presented">442079460000<' in result and "forced" in result
    assert escape(api["trace"]) in result


def test_cli_testing_box_without_rules(web: Client, acme) -> None:
    result = _box(web, acme, cli="123")
    assert "Allowed" in result and 'data-testid="cli-presented">123<' in result


def test_viewer_sees_no_write_controls_and_cannot_write(viewer_user, acme, cards) -> None:
    route = _route(acme, cards["sell"], tech_prefix="11#")
    rule = _rule(acme, cli="^44")
    client = Client()
    client.force_login(viewer_user)
    body = client.get(_tab(acme.pk)).content.decode()
    assert "Add ingress route" not in body and "Add CLI rule" not in body
    assert reverse("customer_routing:ingressroute_edit", args=[acme.pk, route.pk]) not in body
    assert reverse("customer_routing:clirule_delete", args=[acme.pk, rule.pk]) not in body
    assert 'id="cli-testing"' in body
    before = ObjectChange.objects.count()
    add = reverse("customer_routing:ingressroute_add", args=[acme.pk])
    assert client.get(add).status_code == 403
    assert client.post(add, {**ROUTE_FORM, "rate_card": cards["sell"].pk}).status_code == 403
    assert client.post(add, {**ROUTE_FORM, "_generate_tech_prefix": "1"}).status_code == 403
    edit = reverse("customer_routing:ingressroute_edit", args=[acme.pk, route.pk])
    assert client.post(edit, ROUTE_FORM).status_code == 403
    assert client.post(reverse("customer_routing:ingressroute_delete", args=[acme.pk, route.pk])).status_code == 403
    assert client.post(reverse("customer_routing:clirule_add", args=[acme.pk]), CLI_FORM).status_code == 403
    assert client.post(reverse("customer_routing:clirule_edit", args=[acme.pk, rule.pk]), CLI_FORM).status_code == 403
    assert client.post(reverse("customer_routing:clirule_delete", args=[acme.pk, rule.pk])).status_code == 403
    assert ObjectChange.objects.count() == before
    assert IngressRoute.objects.count() == 1 and CliRule.objects.count() == 1


def test_weights_typed_by_card_name(web: Client, acme, cards) -> None:
    add = reverse("customer_routing:ingressroute_add", args=[acme.pk])
    data = {**ROUTE_FORM, "rate_card": cards["sell"].pk, "strategy": "weighted",
            "weights": "Carrier One: 3\ncarrier two : 1\n"}
    response = web.post(add, data)
    assert response.status_code == 302, response.context["form"].errors
    route = IngressRoute.objects.get(customer=acme)
    assert route.weights == {str(cards["one"].pk): 3, str(cards["two"].pk): 1}
    # Shown again as typed, by name, on the edit form.
    form = web.get(reverse("customer_routing:ingressroute_edit", args=[acme.pk, route.pk])).content.decode()
    assert "Carrier One: 3\nCarrier Two: 1</textarea>" in form


@pytest.mark.parametrize(("weights", "message"), [
    ("Stray Carrier: 2", "Line 1: 'Stray Carrier' is not one of the offered provider cards."),
    ("Carrier One: 2\nCarrier One: 5", "Line 2: Carrier One is weighted twice."),
    ("Carrier One 2", "Line 1: write the card's name, a colon and the weight, as in 'Carrier A: 3'."),
    ("\nCarrier Two: -1", "Line 2: the weight '-1' is not a whole number from 0 to 1000."),
    ("Carrier Two: 1001", "Line 1: the weight '1001' is not a whole number from 0 to 1000."),
])
def test_weights_errors_name_the_line_and_write_nothing(web: Client, acme, cards, weights, message) -> None:
    before = ObjectChange.objects.count()
    response = web.post(reverse("customer_routing:ingressroute_add", args=[acme.pk]),
                        {**ROUTE_FORM, "rate_card": cards["sell"].pk, "weights": weights})
    assert response.status_code == 200
    assert response.context["form"].errors["weights"] == [message]
    assert not IngressRoute.objects.exists()
    assert ObjectChange.objects.count() == before


def test_another_customers_route_and_rule_are_not_found_under_this_customer(web: Client, acme, cards) -> None:
    other = make_customer(name="Other")
    route = _route(other, cards["sell"], tech_prefix="77#")
    rule = _rule(other, cli="^33")
    before = ObjectChange.objects.count()
    for name, obj, form in (("ingressroute", route, ROUTE_FORM), ("clirule", rule, CLI_FORM)):
        for action, data in (("edit", form), ("delete", {})):
            url = reverse(f"customer_routing:{name}_{action}", args=[acme.pk, obj.pk])
            assert web.get(url).status_code == 404, url
            assert web.post(url, data).status_code == 404, url
    assert list(IngressRoute.objects.values_list("customer", "tech_prefix")) == [(other.pk, "77#")]
    assert list(CliRule.objects.values_list("customer", "cli")) == [(other.pk, "^33")]
    assert ObjectChange.objects.count() == before
