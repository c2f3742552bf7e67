"""Simulate Call and the routing snapshot: the same decisions through the API and the command."""

import dataclasses
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import make_contact, make_customer
from tests.routing.helpers import SIMULATE_IP, SimulateWorld, simulate_world
from tests.sipauth.factories import make_ip_auth, make_rewrite, make_sip_user
from trunkline.contracts.codec import read_snapshot, write_snapshot
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import SimulatedCall
from trunkline.routing.services.routes import ingress_route_save
from trunkline.routing.snapshot import snapshot_build, snapshot_publish

SIMULATE = reverse("api:simulate")
SIMULATIONS = reverse("api:simulatedcall-list")
IP = SIMULATE_IP
UK_MOBILE = "447700900123"

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> SimulateWorld:
    return simulate_world()


def simulate(api, **inputs: str) -> dict:
    response = api.post(SIMULATE, {"cli": "12025550143", **inputs}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_routed_call_lists_providers_by_lcr_with_costs_and_margins(api, world) -> None:
    result = simulate(api, dst=UK_MOBILE, ip=IP)
    assert (result["routed"], result["code"], result["reason"]) == (True, 200, "Routed")
    assert result["customer"] == {"id": world.customer.pk, "name": "Acme Voice"}
    assert result["auth"]["kind"] == "ip" and result["auth"]["ip"] == IP
    assert result["ingress_route"]["id"] == world.route.pk
    assert result["numbers"]["after"] == {"dst": UK_MOBILE, "cli": "12025550143", "pai": None}
    assert result["rate"]["prefix"] == "44" and (result["rate"]["mcd"], result["rate"]["pulse"]) == (6, 6)
    assert Decimal(result["rate"]["rate"]) == Decimal("0.05")
    egress = [(item["provider"]["id"], item["prefix"], Decimal(item["cost"]), Decimal(item["margin"]))
              for item in result["egress"]]
    assert egress == [(world.cheap.provider_id, "447", Decimal("0.01"), Decimal("0.04")),
                      (world.dear.provider_id, "44", Decimal("0.02"), Decimal("0.03"))]
    assert result["egress"][0]["gateway"] == ["198.51.100.7:5060;transport=udp"]
    assert result["max_duration"] == 1200
    assert result["recording"] is True
    assert [line.split(":")[0] for line in result["trace"]] == [
        "identify", "gates", "rewrite", "cli", "route", "limits", "rate", "money", "egress"]


def test_rewrites_show_the_numbers_before_and_after(api, world) -> None:
    make_rewrite(world.customer.ip_auths.get(), type="destination", match="0", replace="44")
    result = simulate(api, ip=IP, dst="07700900123")
    assert result["numbers"]["before"]["dst"] == "07700900123"
    assert result["numbers"]["after"]["dst"] == UK_MOBILE and result["routed"] is True


def test_sip_user_is_simulated_as_authenticated(api, world) -> None:
    make_sip_user(world.customer, username="acme100")
    result = simulate(api, ip="192.0.2.50", dst=UK_MOBILE, user="acme100")
    assert result["auth"] == {"kind": "sip_user", "id": world.customer.sip_users.get().pk, "username": "acme100"}
    assert result["routed"] is True
    assert simulate(api, ip=IP, dst=UK_MOBILE, user="nobody")["reason"] == "Unknown User"


@pytest.mark.parametrize(("inputs", "code", "reason"), [
    ({"ip": "203.0.113.99", "dst": UK_MOBILE}, 403, "IP Not Authorised"),
    ({"ip": IP, "dst": "33612345678"}, 503, "No Routes Available (Pre)"),
])
def test_rejected_calls(api, world, inputs, code, reason) -> None:
    result = simulate(api, **inputs)
    assert (result["routed"], result["code"], result["reason"]) == (False, code, reason)
    assert result["egress"] == []
    assert result["trace"][-1].endswith(f"{code} {reason}")


def test_customer_without_ingress_route_gets_580(api, world) -> None:
    make_ip_auth(make_customer(name="Routeless"), ip="203.0.113.20")
    result = simulate(api, ip="203.0.113.20", dst=UK_MOBILE)
    assert (result["code"], result["reason"]) == (580, "No Route Available")
    assert result["customer"]["name"] == "Routeless" and result["ingress_route"] is None


def test_viewers_may_read_simulations_but_not_run_one(api, api_for, viewer_user, world) -> None:
    """A run is kept as a SIM call, so it is a write: viewers' writes answer 403 (README, Operators and roles)."""
    kept = simulate(api, ip=IP, dst=UK_MOBILE)
    viewer = api_for(viewer_user)

    response = viewer.post(SIMULATE, {"cli": "12025550143", "ip": IP, "dst": UK_MOBILE}, format="json")

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this change.", "errors": {}}
    assert SimulatedCall.objects.count() == 1
    listed = viewer.get(SIMULATIONS)
    assert listed.status_code == 200
    assert [call["call_id"] for call in listed.json()["results"]] == [kept["call_id"]]
    assert viewer.get(reverse("api:simulatedcall-detail", args=[listed.json()["results"][0]["id"]])).status_code == 200


def test_command_prints_the_api_result_as_json_and_a_readable_trace(api, world) -> None:
    out = StringIO()
    call_command("simulate", "--ip", IP, "--dst", UK_MOBILE, "--cli", "12025550143", "--json", stdout=out)
    from_command, from_api = json.loads(out.getvalue()), simulate(api, ip=IP, dst=UK_MOBILE)
    # Each run is kept under its own call id; everything else is the same decision.
    assert from_command.pop("call_id") != from_api.pop("call_id")
    assert from_command == from_api
    out = StringIO()
    call_command("simulate", "--ip", "203.0.113.99", "--dst", UK_MOBILE, "--cli", "1", stdout=out)
    simulation = SimulatedCall.objects.get(customer=None)
    assert out.getvalue().startswith(f"{simulation.call_id} REJECTED 403 IP Not Authorised\n"
                                     f"  identify: REJECT source 203.0.113.99")


def test_simulations_are_kept_with_a_sim_call_id_and_listed_per_customer(api, world, operator_user) -> None:
    routed = simulate(api, ip=IP, dst=UK_MOBILE)
    simulate(api, ip="203.0.113.99", dst=UK_MOBILE)  # no customer identified: not on Acme's list
    stored = SimulatedCall.objects.get(customer=world.customer)
    assert routed["call_id"] == stored.call_id == f"SIM{stored.pk:010d}"
    listed = api.get(SIMULATIONS, {"customer": world.customer.pk}).json()["results"]
    assert [(item["call_id"], item["created_by"], item["inputs"]["dst"], item["result"]["reason"])
            for item in listed] == [(routed["call_id"], operator_user.username, UK_MOBILE, "Routed")]


def test_a_balance_change_shows_in_simulate_without_a_publication(api, world, tmp_path) -> None:
    published = read_snapshot(snapshot_publish(tmp_path / "published.json"))
    assert simulate(api, dst=UK_MOBILE, ip=IP)["max_duration"] == 1200  # 0 + 1.00 of debit limit at 0.05/min
    customer = Customer.objects.get(pk=world.customer.pk)
    with change_context(source="test"):
        customer.balance = Decimal("-0.50")
        customer.save()
    # Schema v3: the balance is not in the snapshot, so the published one is the same and Simulate still sees it.
    assert dataclasses.replace(snapshot_build(), revision=published.revision,
                               generated_at=published.generated_at) == published
    assert simulate(api, dst=UK_MOBILE, ip=IP)["max_duration"] == 600
    with change_context(source="test"):
        customer.balance = Decimal("-1.00")
        customer.save()
    result = simulate(api, dst=UK_MOBILE, ip=IP)
    assert (result["code"], result["reason"]) == (402, "Insufficient Balance")
    assert result["trace"][-1] == ("money: REJECT available 0.000000 < first increment 0.005000: "
                                   "402 Insufficient Balance")


def test_snapshot_takes_a_fixed_number_of_queries(world, django_assert_num_queries) -> None:
    with django_assert_num_queries(13):
        snapshot = snapshot_build()
    cards = {card.name: card for card in snapshot.rate_cards}
    assert cards["Retail"].egress_card_ids == tuple(sorted((world.cheap.pk, world.dear.pk)))
    assert [row.prefix for row in cards["Cheap"].rows] == ["447"]


def test_published_file_round_trips(world, tmp_path) -> None:
    built = snapshot_build()
    write_snapshot(built, tmp_path / "snapshot.json")
    assert read_snapshot(tmp_path / "snapshot.json") == built
    published = read_snapshot(snapshot_publish(tmp_path / "published.json"))
    assert dataclasses.replace(published, revision=built.revision, generated_at=built.generated_at) == built


def test_verification_gate_reads_the_contacts_flags(api, world) -> None:
    with change_context(source="test"):
        Customer.objects.filter(pk=world.customer.pk).update(email_verification=True)
    make_contact(world.customer)
    assert simulate(api, ip=IP, dst=UK_MOBILE)["reason"] == "Verification Required"
    make_contact(world.customer, email_verified=True)
    assert simulate(api, ip=IP, dst=UK_MOBILE)["routed"] is True


def test_publish_command_writes_the_snapshot_under_var(world, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("publish_snapshot", stdout=out)
    assert out.getvalue() == f"Published {tmp_path / 'routing-snapshot.json'}.\n"
    assert {card.name for card in read_snapshot(tmp_path / "routing-snapshot.json").rate_cards} == {
        "Retail", "Cheap", "Dear"}


def test_weighted_route_puts_the_heavy_card_first_whatever_the_price(api, world) -> None:
    # Weight 0 never wins the first pick while another card has weight: Dear carries the calls, Cheap fails over.
    world.route.strategy = "weighted"
    world.route.weights = {str(world.dear.pk): 1000, str(world.cheap.pk): 0}
    with change_context(source="test"):
        ingress_route_save(route=world.route)
    route = next(route for route in snapshot_build().ingress_routes if route.id == world.route.pk)
    assert [(weight.card_id, weight.weight) for weight in route.weights] == sorted(
        [(world.dear.pk, 1000), (world.cheap.pk, 0)])
    for _ in range(3):
        result = simulate(api, ip=IP, dst=UK_MOBILE)
        assert [item["card_id"] for item in result["egress"]] == [world.dear.pk, world.cheap.pk]
    assert result["trace"][-1].startswith("egress: weighted order:")


def test_an_unidentified_call_is_kept_under_the_customer_it_was_asked_for(api, world) -> None:
    asked = simulate(api, ip="203.0.113.99", dst=UK_MOBILE, customer=world.customer.pk)
    unasked = simulate(api, ip="203.0.113.99", dst=UK_MOBILE)
    assert (asked["code"], asked["customer"]) == (403, None)  # the decision itself identified nobody
    kept = {simulation.call_id: simulation.customer for simulation in SimulatedCall.objects.all()}
    assert kept == {asked["call_id"]: world.customer, unasked["call_id"]: None}
    # An identified customer wins over the one asked for.
    other = make_customer(name="Other Co")
    routed = simulate(api, ip=IP, dst=UK_MOBILE, customer=other.pk)
    assert SimulatedCall.objects.get(pk=int(routed["call_id"][3:])).customer == world.customer
