"""Ingress routes through /api/v1/ingress-routes/: the generated cases, and the rules a route must follow."""

import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from tests.cases.api import APIViewTestCases
from tests.factories import make_customer
from tests.routing.helpers import make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.routing.models import IngressRoute, RateCard
from trunkline.routing.services.routes import generate_tech_prefix, ingress_route_save

ROUTES = reverse("api:ingressroute-list")
GENERATE = reverse("api:ingressroute-generate-tech-prefix")


def make_route(customer: Customer, rate_card: RateCard, *, lock: list[RateCard] | None = None,
               exclude: list[RateCard] | None = None, **fields: Any) -> IngressRoute:
    with change_context(source="test"):
        return ingress_route_save(route=IngressRoute(customer=customer, rate_card=rate_card, **fields), lock=lock,
                                  exclude=exclude)


class Cards:
    """A USD customer card with two provider cards as egress candidates, and one provider card outside them."""

    def __init__(self, tag: str = "") -> None:
        self.alpha = make_card(name=f"Alpha buy{tag}", kind="provider")
        self.bravo = make_card(name=f"Bravo buy{tag}", kind="provider")
        self.outside = make_card(name=f"Outside buy{tag}", kind="provider")
        self.retail = make_card(name=f"Retail USD{tag}", egress_cards=[self.alpha, self.bravo])


@pytest.fixture
def cards(db) -> Cards:
    return Cards()


@pytest.fixture
def customer(db) -> Customer:
    return make_customer(name="Acme Telecom")


def _three_routes() -> list[IngressRoute]:
    cards = Cards(tag=" (listed)")  # beside the fixture's cards
    customer = make_customer()
    return [make_route(customer, cards.retail, tech_prefix="101#"),
            make_route(customer, cards.retail, tech_prefix="102#", lock=[cards.alpha]),
            make_route(customer, cards.retail, dial_string="^44", enabled=False)]


class TestIngressRouteAPI(APIViewTestCases.APIViewTestCase):
    model = IngressRoute
    create_objects = staticmethod(_three_routes)
    create_data = [
        {"tech_prefix": "123*", "dial_string": "^(?<cc>44)[0-9]{9,10}$", "enabled": True, "channels": 30, "cps": 5,
         "max_duration": 7200, "recording": "25", "profit_assurance": True, "capped_rate": "0.050000",
         "provider_capped_rate": "0.010000", "block_connect_cost": True, "strategy": "reverse_lcr",
         "public_notes": "UK only", "private_notes": "flat rate deal"},
        {"tech_prefix": "", "dial_string": "", "recording": "always", "capped_rate": None, "strategy": "weighted"},
    ]
    bulk_update_data = {"channels": 90, "recording": "5", "provider_capped_rate": "0.020000"}
    invalid_update_data = {"recording": "10"}

    @pytest.fixture(autouse=True)
    def _ids(self, customer: Customer, cards: Cards) -> None:
        base = {"customer": customer.pk, "rate_card": cards.retail.pk}
        lists = [{"lock": [cards.alpha.pk], "exclude": [cards.bravo.pk]}, {"lock": [], "exclude": []}]
        self.create_data = [{**base, **data, **extra}
                            for data, extra in zip(type(self).create_data, lists, strict=True)]


def _refused(api, payload: dict[str, Any], errors: dict[str, list[str]], url: str = ROUTES,
             method: str = "post") -> None:
    """The request is a 400 with exactly these errors, and nothing is written."""
    before = (IngressRoute.objects.count(), ObjectChange.objects.count())
    response = getattr(api, method)(url, payload, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"] == errors
    assert (IngressRoute.objects.count(), ObjectChange.objects.count()) == before


def test_field_validation(api, customer, cards) -> None:
    base = {"customer": customer.pk, "rate_card": cards.retail.pk}
    _refused(api, {**base, "tech_prefix": "12a"}, {"tech_prefix": ["A tech prefix holds digits, # and * only."]})
    _refused(api, {**base, "dial_string": "[0-9"}, {"dial_string": ["missing ] in '[0-9'"]})
    _refused(api, {**base, "recording": "10"}, {"recording": ['"10" is not a valid choice.']})
    _refused(api, {**base, "strategy": "random"}, {"strategy": ['"random" is not a valid choice.']})
    _refused(api, {**base, "capped_rate": "-0.01"}, {"capped_rate": [
        "Ensure this value is greater than or equal to 0."]})
    _refused(api, {**base, "capped_rate": "1E-2"}, {"capped_rate": [
        "Scientific notation such as 1E-2 is not accepted; write the number in full."]})


def test_rate_card_must_be_a_customer_card_in_the_customers_currency(api, customer, cards) -> None:
    _refused(api, {"customer": customer.pk, "rate_card": cards.alpha.pk},
             {"rate_card": ["Alpha buy is a provider card; a route rates calls on a customer card."]})
    euro = make_card(name="Retail EUR", currency="EUR")
    _refused(api, {"customer": customer.pk, "rate_card": euro.pk}, {"rate_card": [
        "Retail EUR prices in EUR but Acme Telecom is billed in USD; pick a USD card."]})
    response = api.post(ROUTES, {"customer": make_customer(currency="EUR").pk, "rate_card": euro.pk}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["capped_rate"] is None and response.json()["strategy"] == "lcr"
    assert response.json()["recording"] == "disabled"


def test_tech_prefix_is_unique_per_customer(api, customer, cards) -> None:
    make_route(customer, cards.retail, tech_prefix="77#")
    make_route(customer, cards.retail)
    _refused(api, {"customer": customer.pk, "rate_card": cards.retail.pk, "tech_prefix": "77#"}, {"tech_prefix": [
        "Another route of Acme Telecom already uses tech prefix 77#; the prefix is what tells the routes apart."]})
    # Routes without a prefix are told apart by their dial strings; another customer may use the same prefix.
    assert api.post(ROUTES, {"customer": customer.pk, "rate_card": cards.retail.pk, "dial_string": "^1"},
                    format="json").status_code == 201
    assert api.post(ROUTES, {"customer": make_customer().pk, "rate_card": cards.retail.pk, "tech_prefix": "77#"},
                    format="json").status_code == 201


def test_lock_and_exclude_name_egress_cards_of_the_route_card(api, customer, cards) -> None:
    base = {"customer": customer.pk, "rate_card": cards.retail.pk}
    _refused(api, {**base, "lock": [cards.outside.pk]}, {"lock": [
        "Outside buy is not an egress card of Retail USD; only its egress cards can be locked."]})
    _refused(api, {**base, "exclude": [cards.outside.pk, cards.retail.pk]}, {"exclude": [
        "Outside buy is not an egress card of Retail USD; only its egress cards can be excluded.",
        "Retail USD is not an egress card of Retail USD; only its egress cards can be excluded."]})
    _refused(api, {**base, "lock": [cards.alpha.pk, cards.bravo.pk], "exclude": [cards.bravo.pk]}, {"exclude": [
        "Bravo buy cannot be both locked and excluded."]})
    response = api.post(ROUTES, {**base, "lock": [cards.alpha.pk], "exclude": [cards.bravo.pk]}, format="json")
    assert response.status_code == 201, response.json()
    route = IngressRoute.objects.get(pk=response.json()["id"])
    assert list(route.lock.all()) == [cards.alpha] and list(route.exclude.all()) == [cards.bravo]
    # The audit shows the lists as they ended up.
    last = ObjectChange.objects.filter(object_type__model="ingressroute", object_id=route.pk).order_by("id").last()
    assert (last.postchange_data["lock"], last.postchange_data["exclude"]) == ([cards.alpha.pk], [cards.bravo.pk])


def test_changing_the_card_rechecks_the_stored_lists(api, customer, cards) -> None:
    route = make_route(customer, cards.retail, lock=[cards.alpha])
    other = make_card(name="Other retail", egress_cards=[cards.bravo])
    url = reverse("api:ingressroute-detail", args=[route.pk])
    _refused(api, {"rate_card": other.pk}, {"lock": [
        "Alpha buy is not an egress card of Other retail; only its egress cards can be locked."]}, url=url,
        method="patch")
    response = api.patch(url, {"rate_card": other.pk, "lock": [], "exclude": [cards.bravo.pk]}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["lock"], response.json()["exclude"]) == ([], [cards.bravo.pk])
    change = ObjectChange.objects.filter(object_type__model="ingressroute", object_id=route.pk, action="update").get()
    assert (change.prechange_data["lock"], change.postchange_data["lock"]) == ([cards.alpha.pk], [])


def test_cards_in_use_are_not_deleted(api, customer, cards) -> None:
    make_route(customer, cards.retail, tech_prefix="9#", lock=[cards.alpha])
    for card in (cards.retail, cards.alpha):
        response = api.delete(reverse("api:ratecard-detail", args=[card.pk]))
        assert response.status_code == 400
        assert response.json()["errors"] == {"id": [
            f"{card} is the rate card or a locked card of ingress routes (Acme Telecom route 9#); change them first."]}
        assert RateCard.objects.filter(pk=card.pk).exists()
    # An excluded card may go: without it the route excludes nothing more than before.
    assert api.delete(reverse("api:ratecard-detail", args=[cards.outside.pk])).status_code == 204


def test_egress_cards_named_by_routes_stay(api, customer, cards) -> None:
    route = make_route(customer, cards.retail, tech_prefix="8#", exclude=[cards.bravo])
    url = reverse("api:ratecard-detail", args=[cards.retail.pk])
    response = api.patch(url, {"egress_cards": [cards.alpha.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"egress_cards": [
        "Bravo buy is locked or excluded by Acme Telecom route 8#; take it off the route first."]}
    assert list(cards.retail.egress_cards.order_by("name")) == [cards.alpha, cards.bravo]
    with change_context(source="test"):
        ingress_route_save(route=route, exclude=[])
    assert api.patch(url, {"egress_cards": [cards.alpha.pk]}, format="json").status_code == 200


def test_generate_tech_prefix(api, api_for, viewer_user, customer, cards) -> None:
    response = api.post(f"{GENERATE}?customer={customer.pk}")
    assert response.status_code == 200
    prefix = response.json()["tech_prefix"]
    assert re.fullmatch(r"[0-9]{4}#", prefix)
    assert not IngressRoute.objects.exists()  # nothing is reserved until a route is saved
    assert api.post(GENERATE).json()["errors"] == {"customer": ["Name the customer: ?customer=<id>."]}
    assert api.post(f"{GENERATE}?customer=999999").json()["errors"] == {"customer": ["No customer with id '999999'."]}
    assert api_for(viewer_user).post(f"{GENERATE}?customer={customer.pk}").status_code == 403


def test_generated_prefix_avoids_the_customers_prefixes(customer, cards) -> None:
    class Scripted:
        """Draws 1234 (taken), then 1 (the start of taken "00012"), then 42."""

        def __init__(self) -> None:
            self.values = iter([1234, 1, 42])

        def randrange(self, stop: int) -> int:
            return next(self.values)

    make_route(customer, cards.retail, tech_prefix="1234#")
    make_route(customer, cards.retail, tech_prefix="0001")
    assert generate_tech_prefix(customer=customer, rng=Scripted()) == "0042#"


def test_filters(api, customer, cards) -> None:
    first = make_route(customer, cards.retail, tech_prefix="55#", lock=[cards.alpha], private_notes="Gold deal",
                       capped_rate=Decimal("0.05"))
    second = make_route(make_customer(name="Zenith Voice"), cards.retail, enabled=False, recording="always",
                        strategy="weighted", dial_string="^44")

    def ids(**params: Any) -> list[int]:
        return [item["id"] for item in api.get(ROUTES, params).json()["results"]]

    assert ids(customer=customer.pk) == [first.pk]
    assert ids(enabled="false") == [second.pk]
    assert ids(lock=cards.alpha.pk) == [first.pk]
    assert ids(recording="always", strategy="weighted") == [second.pk]
    assert ids(q="zenith") == [second.pk]
    assert ids(q="gold") == [first.pk]
    assert ids(tech_prefix="55#") == [first.pk]
    assert ids(dial_string="44") == [second.pk]
    assert ids(capped_rate__isnull="true") == [second.pk]
    assert ids(capped_rate__gte="0.01") == [first.pk]


def test_csv_import_is_all_or_nothing(api, customer, cards) -> None:
    good = f"customer,rate_card,tech_prefix,recording\n{customer.pk},{cards.retail.pk},11#,50\n"
    refused = api.post(f"{ROUTES}import/", good + f"{customer.pk},{cards.retail.pk},11#,always\n",
                       content_type="text/csv")
    # Each row is valid alone; the second is refused as it is saved, named by its row as every import error is,
    # and the whole import is rolled back.
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"row 3": {"tech_prefix": [
        "Another route of Acme Telecom already uses tech prefix 11#; the prefix is what tells the routes apart."]}}
    assert not IngressRoute.objects.exists()
    assert api.post(f"{ROUTES}import/", good, content_type="text/csv").status_code == 200
    assert IngressRoute.objects.get().recording == "50"


def test_weights_name_egress_cards_with_whole_numbers(api, customer, cards) -> None:
    base = {"customer": customer.pk, "rate_card": cards.retail.pk, "strategy": "weighted"}
    _refused(api, {**base, "weights": {str(cards.outside.pk): 2}}, {"weights": [
        "Outside buy is not an egress card of Retail USD; only its egress cards can be weighted."]})
    _refused(api, {**base, "weights": {"999999": 2}}, {"weights": [
        "Card #999999 is not an egress card of Retail USD; only its egress cards can be weighted."]})
    _refused(api, {**base, "weights": {str(cards.alpha.pk): 1001}}, {"weights": [
        f"The weight of card {cards.alpha.pk} must be a whole number from 0 to 1000; got 1001."]})
    _refused(api, {**base, "weights": {str(cards.alpha.pk): 1.5}}, {"weights": [
        f"The weight of card {cards.alpha.pk} must be a whole number from 0 to 1000; got 1.5."]})
    _refused(api, {**base, "weights": {"alpha": 1}}, {"weights": ["'alpha' is not a rate card id."]})
    _refused(api, {**base, "weights": [1, 2]}, {"weights": [
        'Give an object of provider card id to weight, e.g. {"12": 3, "14": 1}.']})
    weights = {str(cards.alpha.pk): 3, str(cards.bravo.pk): 0}
    response = api.post(ROUTES, {**base, "weights": weights}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["weights"] == weights
    route = IngressRoute.objects.get(pk=response.json()["id"])
    assert route.weights == weights
    created = ObjectChange.objects.get(object_type__model="ingressroute", object_id=route.pk, action="create")
    assert created.postchange_data["weights"] == weights


def test_a_weighted_egress_card_stays_on_its_customer_card(api, customer, cards) -> None:
    make_route(customer, cards.retail, tech_prefix="6#", weights={str(cards.bravo.pk): 4})
    url = reverse("api:ratecard-detail", args=[cards.retail.pk])
    response = api.patch(url, {"egress_cards": [cards.alpha.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"egress_cards": [
        f"Card #{cards.bravo.pk} has a weight on Acme Telecom route 6#; take it off the route first."]}
    assert list(cards.retail.egress_cards.order_by("name")) == [cards.alpha, cards.bravo]
