"""Simulate Call in the control panel: the customer card's Latest Calls tab and its Simulate dialog, the global
Simulate page, and a simulation's result page; viewers read the simulations but run none, as through the API."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tests.factories import make_customer
from tests.routing.helpers import SIMULATE_IP, SimulateWorld, simulate_world
from tests.sipauth.factories import make_ip_auth
from trunkline.core.jobs import enqueue_debounced
from trunkline.core.models import Job, User
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, SimulatedCall
from trunkline.routing.publish import PUBLISH_SNAPSHOT
from trunkline.routing.selectors import customer_ip
from trunkline.routing.services.simulations import simulate_and_record
from trunkline.routing.snapshot import snapshot_publish

IP = SIMULATE_IP
UNKNOWN_IP = "203.0.113.99"
UK_MOBILE = "447700900123"
CLI = "12025550143"
SIMULATE = reverse("routing:simulate")

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> SimulateWorld:
    return simulate_world()


def tab(customer: Customer) -> str:
    return reverse("customer_routing:latest_calls_tab", args=[customer.pk])


def inputs(**fields: str) -> dict[str, str]:
    return {"dst": UK_MOBILE, "cli": CLI, "ip": IP, "user": "", "pai": "", **fields}


def test_tab_sits_after_routing_and_lists_only_this_customers_sim_calls_newest_first(web: Client, world,
                                                                                      operator_user) -> None:
    first = simulate_and_record(created_by=operator_user, dst=UK_MOBILE, cli=CLI, ip=IP)
    second = simulate_and_record(created_by=operator_user, dst="33612345678", cli=CLI, ip=IP)
    other = make_customer(name="Other Co")
    make_ip_auth(other, ip="198.51.100.200")
    elsewhere = simulate_and_record(created_by=operator_user, dst=UK_MOBILE, cli=CLI, ip="198.51.100.200")
    body = web.get(tab(world.customer)).content.decode()
    nav = body.split('class="card-tabs"')[1].split("</nav>")[0]
    assert nav.index(">Routing</a>") < nav.index(">Latest Calls</a>") < nav.index(">Audit Log</a>")
    assert 'aria-current="page">Latest Calls</a>' in body
    table = body.split('data-testid="latest-calls"')[1].split("</table>")[0]
    assert table.index(second.call_id) < table.index(first.call_id)
    assert elsewhere.call_id not in table
    assert table.count("<tr>") == 3  # the head and two calls
    assert "503 No Routes Available (Pre)" in table and "200 Routed" in table
    pk = SimulatedCall.objects.get(customer=world.customer, inputs__dst=UK_MOBILE).pk
    assert f'href="/routing/simulations/{pk}/">{first.call_id}</a>' in table


def test_the_dialog_starts_with_the_customers_first_sends_address(world) -> None:
    assert customer_ip(world.customer) == IP
    bare = make_customer()
    assert customer_ip(bare) == ""
    make_ip_auth(bare, ip="192.0.2.0/24")
    assert customer_ip(bare) == "192.0.2.1"  # a network: its first host
    make_ip_auth(bare, ip="198.51.100.9")
    make_ip_auth(bare, ip="10.0.0.1", direction="receives")
    assert customer_ip(bare) == "198.51.100.9"  # an exact address beats a network; receiving ones never count


def test_post_creates_exactly_one_simulation_and_redirects_to_its_page(web: Client, world, operator_user) -> None:
    response = web.post(tab(world.customer), inputs())
    simulation = SimulatedCall.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("routing:simulation", args=[simulation.pk])
    assert (simulation.customer, simulation.created_by, simulation.inputs) == (
        world.customer, operator_user, {"dst": UK_MOBILE, "cli": CLI, "ip": IP, "user": None, "pai": None})
    assert simulation.call_id.startswith("SIM")


def test_result_page_of_a_routed_call(web: Client, world) -> None:
    web.post(tab(world.customer), inputs(pai="442079460000"))
    simulation = SimulatedCall.objects.get()
    body = web.get(reverse("routing:simulation", args=[simulation.pk])).content.decode()
    banner = body.split('data-testid="sim-outcome"')[1].split("</div>")[0]
    assert '<span class="outcome">Routed 200</span>' in banner and "sim-banner ok" in body
    assert f'<a href="/customers/{world.customer.pk}/">Acme Voice</a>' in body
    assert f'IP authentication <span class="mono">{IP}</span>' in body
    assert '<dt>Strategy</dt><dd>LCR</dd>' in body
    assert '<dt>Increments</dt><dd><span class="mono">6/6</span>' in body
    egress = body.split('data-testid="sim-egress"')[1].split("</table>")[0]
    assert egress.index(world.cheap.provider.name) < egress.index(world.dear.provider.name)
    assert "198.51.100.7:5060;transport=udp" in egress
    assert '<td class="num mono">0.010000</td>' in egress and '<td class="num mono">0.040000</td>' in egress
    assert '<dd data-testid="sim-max-duration">1200 s <span class="muted">(20 min)</span></dd>' in body
    assert '<dd data-testid="sim-recording">Yes, the call is recorded</dd>' in body
    trace = body.split('data-testid="sim-trace"')[1].split("</ol>")[0]
    assert trace.count("<li") == 9
    for line in simulation.result["trace"]:
        step, _, message = line.partition(": ")
        assert f'<span class="step">{step}:</span> {escape(message)}</li>' in trace
    assert 'class="reject"' not in trace


def test_result_page_of_a_rejected_call_from_the_card(web: Client, world) -> None:
    web.post(tab(world.customer), inputs(ip=UNKNOWN_IP))
    simulation = SimulatedCall.objects.get()
    # Nobody is identified by the IP; run from Acme's card, the simulation stays on Acme's Latest Calls.
    assert simulation.result["customer"] is None and simulation.customer == world.customer
    body = web.get(reverse("routing:simulation", args=[simulation.pk])).content.decode()
    assert '<span class="outcome">Rejected 403 IP Not Authorised</span>' in body and "sim-banner bad" in body
    assert "None identified" in body and "run from the card of" in body
    assert (f'<li class="reject"><span class="step">identify:</span> REJECT source {UNKNOWN_IP} matches no IP-auth '
            f"entry: 403 IP Not Authorised</li>") in body
    assert "None: the call was rejected." in body
    assert simulation.call_id in web.get(tab(world.customer)).content.decode()


def test_invalid_ip_is_a_field_error_and_simulates_nothing(web: Client, world) -> None:
    response = web.post(tab(world.customer), inputs(ip="203.0.113.300", cli=""))
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "ip": ["The customer IP must be an IPv4 or IPv6 address, such as 203.0.113.10."],
        "cli": ["Enter the CLI."]}
    body = response.content.decode()
    assert '<dialog id="simulate-dialog" class="dialog" aria-labelledby="simulate-heading" open>' in body
    assert 'value="203.0.113.300"' in body  # what was typed stays, to correct
    assert SimulatedCall.objects.count() == 0


def test_a_saved_rule_re2_refuses_is_a_form_error_and_simulates_nothing(web: Client, world) -> None:
    # A dial string saved before patterns were RE2 syntax (written around validation, as an upgrade finds it).
    IngressRoute.objects.filter(pk=world.route.pk).update(dial_string="^44(?=7)")
    message = (f"A saved rule cannot be loaded: ingress route #{world.route.pk} dial_string: look-ahead is not "
               f"supported (RE2 syntax) in '^44(?=7)'")
    for url in (SIMULATE, tab(world.customer)):
        response = web.post(url, inputs())
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == [message]
        assert f'<div class="errorlist-block" role="alert">{escape(message)}</div>' in response.content.decode()
    assert SimulatedCall.objects.count() == 0


def test_ipv6_is_accepted(web: Client, world) -> None:
    response = web.post(SIMULATE, inputs(ip="2001:db8::1"))
    simulation = SimulatedCall.objects.get()
    assert response["Location"] == reverse("routing:simulation", args=[simulation.pk])
    assert (simulation.inputs["ip"], simulation.result["code"], simulation.customer) == ("2001:db8::1", 403, None)


def test_viewer_reads_simulations_but_may_not_run_one(world, viewer_user: User, operator_user) -> None:
    # A run is kept as a SIM call, so it is a write: viewers see the calls, not the button, dialog or form.
    kept = simulate_and_record(created_by=operator_user, dst=UK_MOBILE, cli=CLI, ip=IP)
    client = Client()
    client.force_login(viewer_user)

    body = client.get(tab(world.customer)).content.decode()
    assert kept.call_id in body
    assert "data-open-dialog" not in body and "simulate-dialog" not in body and "simulate-form" not in body
    assert 'data-testid="simulate-form"' not in client.get(SIMULATE).content.decode()
    assert kept.call_id in client.get(SIMULATE).content.decode()
    page = client.get(reverse("routing:simulation", args=[kept.pk])).content.decode()
    assert "Routed 200" in page and "Simulate again" not in page

    for url in (tab(world.customer), SIMULATE):
        response = client.post(url, inputs())
        assert response.status_code == 403
    assert list(SimulatedCall.objects.values_list("pk", flat=True)) == [kept.pk]


def test_operator_sees_the_simulate_button_and_the_prefilled_dialog(web: Client, world) -> None:
    body = web.get(tab(world.customer)).content.decode()
    assert f'href="{tab(world.customer)}?simulate=1" data-open-dialog="simulate-dialog"' in body
    assert f'name="ip" value="{IP}"' in body
    assert '<dialog id="simulate-dialog" class="dialog" aria-labelledby="simulate-heading">' in body  # closed
    # Without JavaScript the button's link opens the dialog.
    assert 'aria-labelledby="simulate-heading" open>' in web.get(f"{tab(world.customer)}?simulate=1").content.decode()


def test_global_page_runs_without_a_customer_and_lists_everyones(web: Client, world, operator_user) -> None:
    other = make_customer(name="Other Co")
    make_ip_auth(other, ip="198.51.100.200")
    simulate_and_record(created_by=operator_user, dst=UK_MOBILE, cli=CLI, ip="198.51.100.200")
    response = web.post(SIMULATE, inputs(ip=UNKNOWN_IP))
    unidentified = SimulatedCall.objects.get(customer=None)
    assert response["Location"] == reverse("routing:simulation", args=[unidentified.pk])
    body = web.get(SIMULATE).content.decode()
    assert 'class="active">Simulate</a>' in body
    table = body.split('data-testid="latest-calls"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3
    assert "Other Co" in table and "None identified" in table and "403 IP Not Authorised" in table
    # Simulate again: the same inputs back in the form.
    result = web.get(reverse("routing:simulation", args=[unidentified.pk])).content.decode()
    assert f'href="{SIMULATE}?dst={UK_MOBILE}&amp;cli={CLI}&amp;ip={UNKNOWN_IP}"' in result
    again = web.get(f"{SIMULATE}?dst={UK_MOBILE}&cli={CLI}&ip={UNKNOWN_IP}").content.decode()
    assert f'name="ip" value="{UNKNOWN_IP}"' in again and f'name="dst" value="{UK_MOBILE}"' in again


def test_tab_paginates(web: Client, world, operator_user) -> None:
    SimulatedCall.objects.bulk_create(SimulatedCall(customer=world.customer, inputs=inputs(), created_by=operator_user,
                                                    result={"routed": True, "code": 200, "reason": "Routed"})
                                      for _ in range(51))
    first = web.get(tab(world.customer)).content.decode()
    assert "1–50 of 51" in first and "Older ›" in first
    second = web.get(f"{tab(world.customer)}?page=2").content.decode()
    oldest = SimulatedCall.objects.order_by("id").first()
    assert second.count("200 Routed") == 1 and oldest.call_id in second


def test_global_page_says_when_the_switch_file_was_published(web: Client, world, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    note = web.get(SIMULATE).content.decode().split('data-testid="publication">')[1].split("</p>")[0]
    assert "has not been published yet" in note and "queued" not in note
    published = snapshot_publish()
    enqueue_debounced(PUBLISH_SNAPSHOT)  # a change made since
    stamp = datetime.fromtimestamp(published.stat().st_mtime, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    note = web.get(SIMULATE).content.decode().split('data-testid="publication">')[1].split("</p>")[0]
    assert f"The switch's routing file was published {stamp} UTC" in note
    assert "Changes made since are queued" in note and "failed" not in note
    Job.objects.filter(kind=PUBLISH_SNAPSHOT).update(status=Job.Status.FAILED, last_error="OSError: disk full",
                                                             finished=timezone.now())
    note = web.get(SIMULATE).content.decode().split('data-testid="publication">')[1].split("</p>")[0]
    assert "<strong>The last publication failed: OSError: disk full</strong>" in note
