"""The generated API test cases, applied to providers and rate cards."""

from tests.cases.api import APIViewTestCases
from tests.routing.helpers import make_card, make_provider
from trunkline.routing.models import Provider, RateCard


def _three_providers() -> list[Provider]:
    return [make_provider(name="Alpha Carrier"), make_provider(name="Bravo Transit", channels=100),
            make_provider(name="Charlie Wholesale", status="inactive", tech_prefix="99")]


def _three_cards() -> list[RateCard]:
    return [make_card(name="Retail USD"), make_card(name="Wholesale EUR", currency="EUR"),
            make_card(name="Premium GBP", currency="GBP", strategy="reverse_lcr")]


class TestProviderAPI(APIViewTestCases.APIViewTestCase):
    model = Provider
    create_objects = staticmethod(_three_providers)
    create_data = [
        {"name": "Delta Telecom", "status": "active", "channels": 300, "cps": 20, "tech_prefix": "1234",
         "gateways": [{"host": "203.0.113.10", "port": 5080, "transport": "tcp"}], "notes": "main route"},
        {"name": "Echo Voice", "gateways": [{"host": "sip.echo.example", "port": 5060, "transport": "tls"}]},
    ]
    bulk_update_data = {"status": "inactive", "cps": 10}
    invalid_update_data = {"tech_prefix": "12a"}

    def test_gateway_defaults_are_stored(self, api) -> None:
        response = api.post(self.list_url(), {"name": "Golf", "gateways": [{"host": "sip.echo.example"}]},
                            format="json")
        assert response.json()["gateways"] == [{"host": "sip.echo.example", "port": 5060, "transport": "udp"}]

    def test_bad_gateways_are_refused(self, api) -> None:
        for gateways, message in [
            ([{"host": "not a host"}], "Gateway 1: 'not a host' is not an IP address or host name."),
            ([{"host": "192.0.2.1", "port": 70000}], "Gateway 1: the port must be a number from 1 to 65535."),
            ([{"host": "192.0.2.1", "transport": "sctp"}], "Gateway 1: the transport must be udp, tcp or tls."),
            ([{"host": "192.0.2.1"}, {"host": "192.0.2.1", "port": 5060}],
             "Gateway 2: 192.0.2.1:5060 (udp) is listed twice."),
            ("192.0.2.1", "Give a list of gateways, each {host, port, transport}."),
        ]:
            response = api.post(self.list_url(), {"name": "Foxtrot", "gateways": gateways}, format="json")
            assert response.status_code == 400
            assert response.json()["errors"] == {"gateways": [message]}
        assert not Provider.objects.exists()

    def test_provider_with_cards_is_not_deleted(self, api) -> None:
        card = make_card(kind="provider")
        response = api.delete(self.detail_url(card.provider.pk))
        assert response.status_code == 400
        assert "still has rate cards" in response.json()["detail"]
        assert Provider.objects.filter(pk=card.provider.pk).exists()


class TestRateCardAPI(APIViewTestCases.APIViewTestCase):
    model = RateCard
    create_objects = staticmethod(_three_cards)
    create_data = [
        {"name": "Retail EUR", "kind": "customer", "currency": "EUR", "strategy": "lcr", "egress_cards": []},
        {"name": "Notes only", "kind": "customer", "currency": "USD", "notes": "A/Z retail"},
    ]
    bulk_update_data = {"strategy": "weighted", "notes": "reviewed"}
    invalid_update_data = {"strategy": "random"}
