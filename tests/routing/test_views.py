"""Routing > Providers and Routing > Rate cards in the control panel."""

from typing import Any

from django.test import Client
from django.urls import reverse

from tests.cases.views import ViewTestCases
from tests.routing.helpers import HEADER, load_rates, make_card, make_provider
from trunkline.audit.models import ObjectChange
from trunkline.routing.models import Provider, Rate, RateCard, RateRevision


def _three_providers() -> list[Provider]:
    return [make_provider(name="Atlas Carrier"), make_provider(name="Boreal Voice", channels=30),
            make_provider(name="Cirrus Telecom", status="inactive")]


class TestProviderViews(ViewTestCases.ListObjectsViewTestCase, ViewTestCases.CreateObjectViewTestCase,
                        ViewTestCases.EditObjectViewTestCase, ViewTestCases.BulkEditObjectsViewTestCase,
                        ViewTestCases.BulkDeleteObjectsViewTestCase):
    model = Provider
    create_objects = staticmethod(_three_providers)
    form_data = {"name": "Delta Route", "status": "active", "tech_prefix": "77", "channels": "40", "cps": "5",
                 "gateways": "198.51.100.9:5080/tcp\nsip.delta.example\n", "notes": ""}
    expected_after_create = {"name": "Delta Route", "tech_prefix": "77", "channels": 40, "cps": 5,
                             "gateways": [{"host": "198.51.100.9", "port": 5080, "transport": "tcp"},
                                          {"host": "sip.delta.example", "port": 5060, "transport": "udp"}]}
    expected_after_edit = expected_after_create
    bulk_edit_data = {"status": "inactive", "cps": "9"}
    expected_after_bulk_edit = {"status": "inactive", "cps": 9}


def test_provider_gateway_error_names_the_gateway(web: Client) -> None:
    response = web.post(reverse("routing:provider_add"), {**TestProviderViews.form_data,
                                                          "gateways": "198.51.100.9:99999/udp"})
    assert response.status_code == 200
    assert "Gateway 1: the port must be a number from 1 to 65535." in response.content.decode()
    assert not Provider.objects.exists()


def test_provider_with_cards_is_not_deleted(web: Client, setup_context: None) -> None:
    card = make_card(kind="provider")
    response = web.post(reverse("routing:provider_bulk_delete"), {"pk": [card.provider_id], "_confirm": "1"},
                        follow=True)
    assert "Nothing was deleted" in response.content.decode()
    assert Provider.objects.filter(pk=card.provider_id).exists()


def _three_cards() -> list[RateCard]:
    return [make_card(name="Retail USD"), make_card(name="Wholesale EUR", currency="EUR"),
            make_card(name="Atlas buy", kind="provider")]


class TestRateCardViews(ViewTestCases.ListObjectsViewTestCase, ViewTestCases.CreateObjectViewTestCase,
                        ViewTestCases.EditObjectViewTestCase, ViewTestCases.DeleteObjectViewTestCase):
    model = RateCard
    create_objects = staticmethod(_three_cards)
    form_data = {"name": "Premium USD", "kind": "customer", "currency": "USD", "strategy": "lcr", "notes": "x"}
    expected_after_create = {"name": "Premium USD", "kind": "customer", "currency": "USD"}
    expected_after_edit = {"name": "Premium USD"}

    def edit_form_data(self, obj: RateCard) -> dict[str, Any]:
        return {**self.form_data, "kind": obj.kind, "currency": obj.currency,
                "provider": obj.provider_id or ""}


def test_customer_card_egress_cards_saved_through_the_service(web: Client, setup_context: None) -> None:
    buy = make_card(name="Atlas buy", kind="provider")
    eur = make_card(name="Boreal buy", kind="provider", currency="EUR")
    data = {"name": "Retail", "kind": "customer", "currency": "USD", "strategy": "lcr", "egress_cards": [buy.pk]}
    response = web.post(reverse("routing:ratecard_add"), data)
    card = RateCard.objects.get(name="Retail")
    assert response["Location"] == reverse("routing:ratecard", args=[card.pk])
    assert list(card.egress_cards.all()) == [buy]
    refused = web.post(reverse("routing:ratecard_edit", args=[card.pk]), {**data, "egress_cards": [eur.pk]})
    assert "prices in EUR but this card bills in USD" in refused.content.decode()
    assert list(card.egress_cards.all()) == [buy]


def _import(client: Client, card: RateCard, csv: str, **options: Any) -> Any:
    data = {"csv": csv, "start_row": "2", "columns": "prefix,name,rate,connection_fee,mcd,pulse,grace,status",
            **options}
    return client.post(reverse("routing:ratecard_import", args=[card.pk]), data)


def test_import_preview_lists_rows_and_writes_nothing(web: Client, setup_context: None) -> None:
    card = make_card()
    response = _import(web, card, HEADER + "44,UK,0.012,0,1,1,0,active\n33,France,0.02,0,30,6,0,active\n",
                       _preview="1")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ready to import 2 rows." in body
    assert 'data-testid="import-preview"' in body and "France" in body
    assert not RateRevision.objects.filter(card=card).exists()


def test_import_errors_name_row_and_field_and_nothing_is_written(web: Client, setup_context: None) -> None:
    card = make_card()
    csv = HEADER + "44,UK,0.012,0,1,1,0,active\n44,UK again,0.013,0,1,1,0,active\n33,France,1E-3,0,1,1,0,active\n"
    response = _import(web, card, csv, _import="1")
    body = response.content.decode()
    assert response.status_code == 200
    assert "2 rows with errors; nothing was imported." in body
    assert "<td>Row 3</td><td class=\"mono\">prefix</td><td>Prefix 44 is on rows 2 and 3" in body
    assert "<td>Row 4</td><td class=\"mono\">rate</td>" in body
    assert not RateRevision.objects.filter(card=card).exists()
    assert not Rate.objects.exists()


def test_import_with_start_row_and_mapping_activates(web: Client, setup_context: None) -> None:
    card = make_card()
    csv = "Deck of 2026\nname;ignored\nUK,44,0.012\nFrance,33,0.020\n"
    response = _import(web, card, csv, start_row="3", columns="name,prefix,rate", _import="1")
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.active_revision.number == 1
    assert list(card.active_revision.rates.values_list("prefix", "name")) == [("33", "France"), ("44", "UK")]
    change = ObjectChange.objects.get(action="create", object_id=card.active_revision.pk,
                                      object_type__model="raterevision")
    assert change.source == "web"


def test_import_bad_mapping_is_shown_on_the_field(web: Client, setup_context: None) -> None:
    card = make_card()
    response = _import(web, card, "44,0.1\n", columns="prefix,cost", _import="1")
    assert "Unknown column &#x27;cost&#x27;" in response.content.decode()
    assert not RateRevision.objects.exists()


def test_card_page_activate_and_roll_back(web: Client, setup_context: None) -> None:
    card = make_card()
    first = load_rates(card, "44,UK,0.012,0,1,1,0,active\n")
    second = load_rates(card, "44,UK,0.015,0,1,1,0,active\n491,Germany mobile,0.05,0,1,1,0,active\n")
    page = web.get(reverse("routing:ratecard", args=[card.pk]) + "?prefix=49")
    body = page.content.decode()
    assert 'data-testid="active-revision">2<' in body
    assert "Germany mobile" in body and ">UK<" not in body
    web.post(reverse("routing:ratecard_rollback", args=[card.pk]))
    card.refresh_from_db()
    assert card.active_revision == first
    web.post(reverse("routing:raterevision_activate", args=[second.pk]))
    card.refresh_from_db()
    assert card.active_revision == second


def test_schedule_a_revision(web: Client, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.012,0,1,1,0,active\n")
    later = load_rates(card, "44,UK,0.015,0,1,1,0,active\n", activate=False)
    web.post(reverse("routing:raterevision_activate", args=[later.pk]), {"date_live": "2099-01-02T03:04"})
    later.refresh_from_db()
    card.refresh_from_db()
    assert later.date_live.isoformat() == "2099-01-02T03:04:00+00:00"
    assert card.active_revision != later
    assert "Live 2099-01-02 03:04:00 UTC" in web.get(reverse("routing:ratecard", args=[card.pk])).content.decode()


def test_export_writes_the_active_revision(web: Client, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.012,0,1,1,0,active\n")
    response = web.get(reverse("routing:ratecard_export", args=[card.pk]))
    assert b"".join(response.streaming_content).decode() == HEADER + "44,UK,0.012000,0.000000,1,1,0,active\n"


def test_viewer_sees_no_write_controls_and_cannot_write(viewer_user, setup_context: None) -> None:
    card = make_card()
    first = load_rates(card, "44,UK,0.012,0,1,1,0,active\n")
    load_rates(card, "44,UK,0.015,0,1,1,0,active\n")
    client = Client()
    client.force_login(viewer_user)
    body = client.get(reverse("routing:ratecard", args=[card.pk])).content.decode()
    for control in ("Import CSV", "Roll back", ">Activate<", ">Delete<", "Edit"):
        assert control not in body
    assert "Export CSV" in body
    assert "Add provider" not in client.get(reverse("routing:provider_list")).content.decode()
    before = ObjectChange.objects.count()
    assert client.get(reverse("routing:ratecard_rollback", args=[card.pk])).status_code == 403  # not even asked
    assert client.post(reverse("routing:ratecard_rollback", args=[card.pk])).status_code == 403
    assert client.post(reverse("routing:raterevision_activate", args=[first.pk])).status_code == 403
    assert _import(client, card, HEADER + "1,US,0.01,0,1,1,0,active\n", _import="1").status_code == 403
    assert client.get(reverse("routing:ratecard_import", args=[card.pk])).status_code == 403
    card.refresh_from_db()
    assert card.active_revision.number == 2
    assert ObjectChange.objects.count() == before
