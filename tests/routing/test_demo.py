"""`trunkline demo`: the demo routing lets a simulated call from a demo customer route out of the box."""

from io import StringIO

import pytest
from django.core.management import call_command

from trunkline.audit.models import ObjectChange
from trunkline.customers.models import Customer
from trunkline.routing.demo import LOCAL_IP
from trunkline.routing.models import IngressRoute, Provider, RateCard
from trunkline.routing.services.simulations import simulate_call
from trunkline.sipauth.models import IpAuth

pytestmark = pytest.mark.django_db

CLI = "12025550143"
NOTHING_CREATED = "Demo routing: 0 providers, 0 rate cards, 0 ingress routes, 0 IP-auth entries created.\n"


def run(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Customer, Provider, RateCard, IngressRoute, IpAuth,
                                                     ObjectChange))


def first_active_usd_customer() -> Customer:
    # The demo's statuses are drawn at random (seeded): take whichever comes first rather than a name.
    return Customer.objects.filter(currency="USD", status="active").order_by("id").first()


@pytest.mark.parametrize(("dst", "prefix", "rate", "providers"), [
    # Bravo is cheapest on mobiles, Alpha on fixed lines, Charlie on long haul.
    ("447700900123", "447", "0.017500", ["Bravo Telecom", "Charlie Networks", "Alpha Carrier"]),
    ("442079460123", "4420", "0.005700", ["Alpha Carrier", "Charlie Networks", "Bravo Telecom"]),
    ("919876543210", "91", "0.040500", ["Charlie Networks", "Bravo Telecom", "Alpha Carrier"]),
])
def test_a_demo_customer_call_routes_in_lcr_order(dst: str, prefix: str, rate: str, providers: list[str]) -> None:
    run()
    customer = first_active_usd_customer()
    ip = customer.ip_auths.get().ip

    result = simulate_call(dst=dst, cli=CLI, ip=ip)

    assert (result["routed"], result["code"]) == (True, 200), result["trace"]
    assert result["max_duration"] == 4 * 3600  # the route's cap: the debit limit alone would buy days
    assert result["customer"]["name"] == customer.name
    assert (result["rate"]["prefix"], result["rate"]["rate"]) == (prefix, rate)
    assert [item["provider"]["name"] for item in result["egress"]] == providers
    assert {item["prefix"] for item in result["egress"]} == {prefix}


def test_the_blocked_prefix_is_refused_before_any_provider() -> None:
    run()
    ip = first_active_usd_customer().ip_auths.get().ip

    result = simulate_call(dst="447012345678", cli=CLI, ip=ip)

    assert (result["routed"], result["code"], result["egress"]) == (False, 503, [])
    assert "blocked prefix 4470" in result["trace"][-1]


def test_each_customer_in_a_demo_currency_has_a_route_and_its_own_ip() -> None:
    run()
    routed = Customer.objects.filter(currency__in=["USD", "GBP", "EUR"])

    for customer in routed:
        route = customer.ingress_routes.get()
        assert (route.rate_card.name, route.tech_prefix, route.strategy) == (f"Wholesale {customer.currency}", "",
                                                                             "lcr")
        assert route.profit_assurance == ("wholesale" in customer.tags)
    ips = sorted(IpAuth.objects.filter(customer__in=routed).exclude(ip=LOCAL_IP).values_list("ip", flat=True),
                 key=lambda ip: int(ip.rsplit(".", 1)[1]))
    assert ips == [f"203.0.113.{number}" for number in range(1, routed.count() + 1)]
    assert IngressRoute.objects.filter(profit_assurance=True).exists()
    # CAD and AUD have no demo card: those customers get nothing, and their calls find no route.
    assert not IngressRoute.objects.exclude(customer__in=routed).exists()
    assert not IpAuth.objects.exclude(customer__in=routed).exists()


def test_calls_from_this_machine_route_as_one_postpaid_customer() -> None:
    run()
    local = IpAuth.objects.get(ip=LOCAL_IP).customer
    candidates = Customer.objects.filter(currency="USD", status="active", debit_limit__gt=0,
                                         email_verification=False, mobile_verification=False).order_by("-id")
    assert local == candidates.first()
    assert local != first_active_usd_customer()  # whose single entry the other tests read

    result = simulate_call(dst="442079460123", cli=CLI, ip=LOCAL_IP)

    assert (result["routed"], result["code"], result["customer"]["name"]) == (True, 200, local.name)


def test_a_second_run_creates_nothing() -> None:
    run()
    before = counts()

    output = run()

    assert output == "Demo data: 0 customers created, 50 already there; 0 contacts created.\n" + NOTHING_CREATED
    assert counts() == before


def test_if_empty_adds_nothing_to_a_database_with_customers() -> None:
    run()
    before = counts()

    assert run("--if-empty") == "Customers exist already; no demo data loaded.\n"
    assert counts() == before
