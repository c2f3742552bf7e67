"""Customers sharing a source IP are told apart at save time exactly as the call decision tells them apart: by the
tech prefixes of their enabled ingress routes, then CLI authentication (DESIGN.md, Behaviour rules). Every
accepted setup is checked against the switch itself through Simulate."""

from typing import Any

import pytest
from django.urls import reverse

from tests.factories import make_customer
from tests.routing.helpers import make_card
from tests.sipauth.factories import make_ip_auth, make_route
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import CliRule, IngressRoute, RateCard
from trunkline.routing.services.simulations import simulate_call
from trunkline.sipauth.models import IpAuth

LIST = "/api/v1/ip-auth/"
ROUTES = "/api/v1/ingress-routes/"
IP = "192.0.2.10"
FIX = ("Give the customers' ingress routes different tech prefixes, or turn on CLI authentication on both entries "
       "with CLI rules for each customer.")


@pytest.fixture
def card(db) -> RateCard:
    return make_card(name="Retail")


def cli_rule(customer: Customer, **fields: Any) -> CliRule:
    with change_context(source="test"):
        rule = CliRule(customer=customer, **fields)
        rule.full_clean()
        rule.save()
    return rule


def identified(dst: str, cli: str = "4420000000") -> str | None:
    customer = simulate_call(dst=dst, cli=cli, ip=IP)["customer"]
    return customer and customer["name"]


def counts() -> tuple[int, int]:
    return IpAuth.objects.count(), ObjectChange.objects.count()


def test_route_prefixes_tell_customers_apart_even_without_ip_auth_prefixes(api, acme, bolt, card):
    make_route(acme, card, "1#")
    make_route(bolt, card, "2#")
    other = make_ip_auth(acme, ip=IP)

    response = api.post(LIST, {"customer": bolt.pk, "ip": IP}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        f"{IP} is shared with customer Acme Telecom (IP auth #{other.pk}, {IP}); calls are told apart by the tech "
        f"prefixes of their ingress routes (Bolt Voice: 2#; Acme Telecom: 1#)."]
    assert (identified("1#4420000000"), identified("2#4420000000"), identified("3#4420000000")) == (
        "Acme Telecom", "Bolt Voice", None)


def test_ip_auth_tech_prefixes_tell_nothing_apart(api, acme, bolt, card):
    # The legacy IP-auth tech prefix is not what the switch reads: the routes' (both without a prefix) are.
    make_route(acme, card)
    make_route(bolt, card)
    other = make_ip_auth(acme, ip=IP, tech_prefix="111#")
    before = counts()

    response = api.post(LIST, {"customer": bolt.pk, "ip": IP, "tech_prefix": "222#"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"ip": [
        f"{IP} is also the IP of customer Acme Telecom (IP auth #{other.pk}, {IP}), and calls from it could not be "
        f"told apart: both customers have an enabled ingress route with no tech prefix, and CLI authentication is "
        f"not on for both entries. {FIX}"]}
    assert counts() == before


def test_a_longer_prefix_tells_apart_but_a_common_one_does_not(api, acme, bolt, card):
    make_route(acme, card, "1")
    make_route(acme, card, "12")
    make_route(bolt, card, "12")
    other = make_ip_auth(acme, ip=IP)

    response = api.post(LIST, {"customer": bolt.pk, "ip": IP}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["ip"] == [
        f"{IP} is also the IP of customer Acme Telecom (IP auth #{other.pk}, {IP}), and calls from it could not be "
        f"told apart: both customers have an enabled ingress route with tech prefix 12, and CLI authentication is "
        f"not on for both entries. {FIX}"]


def test_cli_authentication_tells_apart_customers_with_their_own_cli_rules(api, acme, bolt, card):
    make_route(acme, card)
    make_route(bolt, card)
    cli_rule(acme, cli="^44")
    cli_rule(bolt, cli="^33")
    other = make_ip_auth(acme, ip=IP, cli_authentication=True)

    response = api.post(LIST, {"customer": bolt.pk, "ip": IP, "cli_authentication": True}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        f"{IP} is shared with customer Acme Telecom (IP auth #{other.pk}, {IP}); calls with (none) as the longest "
        f"tech prefix are told apart by CLI authentication (a CLI both customers' rules accept is refused)."]
    assert (identified("4420000000", cli="4420000001"), identified("4420000000", cli="3320000001"),
            identified("4420000000", cli="4920000001")) == ("Acme Telecom", "Bolt Voice", None)


@pytest.mark.parametrize(("ours", "bolt_rule", "why"), [
    ({}, {"cli": "^33"}, "CLI authentication is not on for both entries"),
    ({"cli_authentication": True}, None,
     "the outbound CLI rules of Bolt Voice let every CLI through (no rule, or one matching any CLI without a "
     "condition)"),
    ({"cli_authentication": True}, {"cli": ""},
     "the outbound CLI rules of Bolt Voice let every CLI through (no rule, or one matching any CLI without a "
     "condition)"),
    ({"cli_authentication": True}, {"cli": "^33", "forced": True, "direction": "outbound"},
     "the outbound CLI rules of Bolt Voice let every CLI through (no rule, or one matching any CLI without a "
     "condition)"),
    ({"cli_authentication": True}, {"cli": "^33", "direction": "inbound"},
     "the outbound CLI rules of Bolt Voice let every CLI through (no rule, or one matching any CLI without a "
     "condition)"),
])
def test_cli_authentication_must_be_able_to_refuse_a_cli_on_both_sides(api, acme, bolt, card, ours, bolt_rule, why):
    make_route(acme, card, "5#")
    make_route(bolt, card, "5#")
    cli_rule(acme, cli="^44")
    if bolt_rule is not None:
        if bolt_rule.get("forced"):
            bolt_rule["cli"] = "3320000000"
        cli_rule(bolt, **bolt_rule)
    other = make_ip_auth(acme, ip=IP, cli_authentication=True)
    before = counts()

    response = api.post(LIST, {"customer": bolt.pk, "ip": IP, **ours}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["ip"] == [
        f"{IP} is also the IP of customer Acme Telecom (IP auth #{other.pk}, {IP}), and calls from it could not be "
        f"told apart: both customers have an enabled ingress route with tech prefix 5#, and {why}. {FIX}"]
    assert counts() == before


def test_a_customer_without_routes_yet_shares_with_a_warning(api, acme, bolt, card):
    make_route(acme, card, "1#")
    other = make_ip_auth(acme, ip=IP)

    response = api.post(LIST, {"customer": bolt.pk, "ip": IP}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        f"{IP} is shared with customer Acme Telecom (IP auth #{other.pk}, {IP}); calls are told apart by the tech "
        f"prefixes of their ingress routes (Bolt Voice: no enabled ingress route; Acme Telecom: 1#)."]


@pytest.mark.parametrize(("theirs", "ours", "owner"), [
    ("192.0.2.10", "192.0.2.0/28", "Acme Telecom's entry"),
    ("192.0.2.0/28", "192.0.2.10", "this entry"),
])
def test_an_overlapping_network_of_another_size_is_reported_not_refused(api, acme, bolt, card, theirs, ours,
                                                                        owner):
    # The switch gives a call to the most specific network holding its source: no tie to break.
    make_route(acme, card)
    make_route(bolt, card)
    other = make_ip_auth(acme, ip=theirs)

    response = api.post(LIST, {"customer": bolt.pk, "ip": ours}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        f"{ours} overlaps customer Acme Telecom (IP auth #{other.pk}, {theirs}): calls from 192.0.2.10 come to "
        f"{owner}, the more specific one."]
    assert identified("4420000000") == ("Acme Telecom" if owner != "this entry" else "Bolt Voice")


#
# Routes changed after the IP is shared
#


@pytest.fixture
def shared(acme, bolt, card) -> tuple[IngressRoute, IngressRoute]:
    routes = make_route(acme, card, "1#"), make_route(bolt, card, "2#")
    make_ip_auth(acme, ip=IP)
    make_ip_auth(bolt, ip=IP)
    return routes


def _route_refusal(prefix: str) -> dict[str, list[str]]:
    entry = IpAuth.objects.get(customer__name="Acme Telecom")
    shown = f"tech prefix {prefix}" if prefix else "no tech prefix"
    return {"tech_prefix": [
        f"Bolt Voice shares {IP} with customer Acme Telecom (IP auth #{entry.pk}), and calls from it could not be "
        f"told apart: both customers have an enabled ingress route with {shown}, and CLI authentication is not on "
        f"for both entries. {FIX}"]}


def test_a_route_edit_that_would_make_a_shared_ip_ambiguous_is_refused(api, shared):
    ours = shared[1]
    before = ObjectChange.objects.count()

    response = api.patch(reverse("api:ingressroute-detail", args=[ours.pk]), {"tech_prefix": "1#"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == _route_refusal("1#")
    ours.refresh_from_db()
    assert ours.tech_prefix == "2#"
    assert ObjectChange.objects.count() == before


def test_a_new_route_that_would_make_a_shared_ip_ambiguous_is_refused(api, shared, bolt, card):
    make_route(shared[0].customer, card)  # Acme's catch-all route (no prefix)
    before = IngressRoute.objects.count()

    response = api.post(ROUTES, {"customer": bolt.pk, "rate_card": card.pk, "tech_prefix": ""}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == _route_refusal("")
    assert IngressRoute.objects.count() == before


def test_re_enabling_a_clashing_route_is_refused_but_disabling_and_other_edits_stay_possible(api, shared, bolt,
                                                                                               card):
    dormant = make_route(bolt, card, "1#", enabled=False)  # disabled routes never match, so they clash with nothing
    url = reverse("api:ingressroute-detail", args=[dormant.pk])

    assert api.patch(url, {"max_duration": 60}, format="json").status_code == 200
    refused = api.patch(url, {"enabled": True}, format="json")
    disabled = api.patch(reverse("api:ingressroute-detail", args=[shared[1].pk]), {"enabled": False},
                         format="json")

    assert refused.status_code == 400
    assert refused.json()["errors"] == _route_refusal("1#")
    assert disabled.status_code == 200
    dormant.refresh_from_db()
    assert (dormant.enabled, dormant.max_duration) == (False, 60)


def test_route_changes_of_customers_sharing_no_ip_are_not_checked(api, shared, card):
    lone = make_customer(name="Lone Co")
    make_ip_auth(lone, ip="192.0.2.99")

    response = api.post(ROUTES, {"customer": lone.pk, "rate_card": card.pk, "tech_prefix": "1#"}, format="json")

    assert response.status_code == 201, response.json()


#
# CLI rules changed after the IP is shared by CLI authentication
#


@pytest.fixture
def by_cli(acme, bolt, card) -> CliRule:
    """Acme and Bolt share IP with the same route prefix, told apart by CLI authentication; Bolt's rule."""
    make_route(acme, card)
    make_route(bolt, card)
    cli_rule(acme, cli="^44")
    theirs = cli_rule(bolt, cli="^33")
    make_ip_auth(acme, ip=IP, cli_authentication=True)
    make_ip_auth(bolt, ip=IP, cli_authentication=True)
    return theirs


def _cli_refusal() -> str:
    entry = IpAuth.objects.get(customer__name="Acme Telecom")
    return (f"Bolt Voice shares {IP} with customer Acme Telecom (IP auth #{entry.pk}), and calls from it could not "
            f"be told apart: both customers have an enabled ingress route with no tech prefix, and the outbound CLI "
            f"rules of Bolt Voice let every CLI through (no rule, or one matching any CLI without a condition). "
            f"{FIX}")


def test_deleting_the_last_cli_rule_of_a_customer_told_apart_by_it_is_refused(api, by_cli) -> None:
    before = ObjectChange.objects.count()

    response = api.delete(reverse("api:clirule-detail", args=[by_cli.pk]))

    assert response.status_code == 400
    assert response.json()["errors"] == {"id": [_cli_refusal()]}
    assert CliRule.objects.filter(pk=by_cli.pk).exists() and ObjectChange.objects.count() == before
    assert identified("4420000000", cli="3320000001") == "Bolt Voice"


def test_the_panel_refuses_that_deletion_too(web, by_cli, bolt) -> None:
    url = reverse("customer_routing:clirule_delete", args=[bolt.pk, by_cli.pk])
    response = web.post(url, follow=True)
    assert _cli_refusal().replace("'", "&#x27;") in response.content.decode()
    assert CliRule.objects.filter(pk=by_cli.pk).exists()


def test_a_cli_rule_accepting_any_cli_is_refused_but_other_rules_come_and_go(api, by_cli, bolt) -> None:
    refused = api.post(reverse("api:clirule-list"), {"customer": bolt.pk, "cli": ""}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"cli": [_cli_refusal()]}
    second = api.post(reverse("api:clirule-list"), {"customer": bolt.pk, "cli": "^34"}, format="json")
    assert second.status_code == 201, second.json()
    # Inbound rules play no part in identifying a call; with two outbound rules, one may go.
    assert api.post(reverse("api:clirule-list"), {"customer": bolt.pk, "cli": "", "direction": "inbound"},
                    format="json").status_code == 201
    assert api.delete(reverse("api:clirule-detail", args=[by_cli.pk])).status_code == 204


def test_moving_the_last_cli_rule_to_another_customer_is_refused_as_its_deletion(api, by_cli) -> None:
    lone = make_customer(name="Lone Co")
    before = ObjectChange.objects.count()

    response = api.patch(reverse("api:clirule-detail", args=[by_cli.pk]), {"customer": lone.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"customer": [_cli_refusal()]}
    by_cli.refresh_from_db()
    assert by_cli.customer.name == "Bolt Voice" and ObjectChange.objects.count() == before
    assert identified("4420000000", cli="3320000001") == "Bolt Voice"
