"""Rate rows through /api/v1/rates/ (each write makes a new revision), and the rules of rate cards."""

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.routing.helpers import load_rates, make_card, make_provider
from trunkline.audit.models import ObjectChange
from trunkline.routing.models import Rate, RateCard, RateRevision

DECK = ("44,UK,0.012000,0.000000,1,1,0,active\n"
        "441,UK Landline,0.010000,0.000000,60,6,0,active\n"
        "447,UK Mobile,0.045000,0.010000,30,6,2,blocked\n")
RATES = reverse("api:rate-list")


def rate_url(pk: int) -> str:
    return reverse("api:rate-detail", args=[pk])


@pytest.fixture
def card(db) -> RateCard:
    card = make_card(name="Retail")
    load_rates(card, DECK)
    card.refresh_from_db()
    return card


def deck(card: RateCard) -> dict[str, Decimal]:
    card.refresh_from_db()
    return dict(Rate.objects.filter(revision=card.active_revision).values_list("prefix", "rate"))


def row(card: RateCard, prefix: str) -> Rate:
    card.refresh_from_db()
    return Rate.objects.get(revision=card.active_revision, prefix=prefix)


def test_list_filters(api, card) -> None:
    load_rates(card, "1,USA,0.005000,0.000000,6,6,0,active\n")
    assert api.get(RATES, {"rate_card": card.pk}).json()["count"] == 4
    body = api.get(RATES, {"rate_card": card.pk, "active": "true"}).json()
    assert [item["prefix"] for item in body["results"]] == ["1"]
    assert body["results"][0]["rate_card"] == card.pk
    first = card.revisions.get(number=1)
    assert api.get(RATES, {"revision": first.pk, "prefix": "441"}).json()["count"] == 1
    assert api.get(RATES, {"revision": first.pk, "prefix__startswith": "44", "status": "blocked"}).json()["count"] == 1


def test_patch_makes_a_new_active_revision(api, card) -> None:
    old = row(card, "441")
    before = ObjectChange.objects.count()
    response = api.patch(rate_url(old.pk), {"rate": "0.011"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] != old.pk and body["rate"] == "0.011000" and body["mcd"] == 60
    card.refresh_from_db()
    assert card.active_revision.number == 2 and card.active_revision.row_count == 3
    assert card.active_revision.source == "edit"
    assert deck(card) == {"44": Decimal("0.012"), "441": Decimal("0.011"), "447": Decimal("0.045")}
    # The old revision is untouched history.
    assert Rate.objects.get(pk=old.pk).rate == Decimal("0.01")
    assert [(e.object_type.model, e.action) for e in ObjectChange.objects.order_by("id")[before:]] == [
        ("raterevision", "create"), ("ratecard", "update")]
    # Rows of an inactive revision cannot be changed.
    response = api.patch(rate_url(old.pk), {"rate": "0.02"}, format="json")
    assert response.status_code == 400
    assert "not active" in response.json()["errors"]["revision"][0]


def test_create_and_delete_rows(api, card) -> None:
    response = api.post(RATES, {"rate_card": card.pk, "prefix": "33", "name": "France", "rate": "0.02"},
                        format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["revision"] == card.revisions.get(number=2).pk
    duplicate = api.post(RATES, {"rate_card": card.pk, "prefix": "33", "rate": "0.03"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"]["prefix"] == [
        "Prefix 33 is already on the active revision; change that row instead."]
    assert api.delete(rate_url(row(card, "447").pk)).status_code == 204
    assert set(deck(card)) == {"33", "44", "441"}
    card.refresh_from_db()
    assert card.active_revision.number == 3 and card.active_revision.row_count == 3


def test_row_validation(api, card) -> None:
    response = api.post(RATES, {"rate_card": card.pk, "prefix": "+44", "rate": "1E+5", "pulse": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "prefix": ["Digits only."],
        "rate": ["Scientific notation such as 1E+5 is not accepted; write the number in full."],
        "pulse": ["Ensure this value is greater than or equal to 1."]}
    response = api.post(RATES, {"rate_card": card.pk, "prefix": "+44", "rate": "0.1"}, format="json")
    assert response.json()["errors"] == {"prefix": ["Digits only."]}
    assert card.revisions.count() == 1


def test_bulk_edit_and_delete_make_one_revision_per_card(api, card) -> None:
    other = make_card(name="Other")
    load_rates(other, DECK)
    other.refresh_from_db()
    payload = [{"id": row(card, "44").pk, "rate": "0.5"}, {"id": row(card, "441").pk, "status": "blocked"},
               {"id": row(other, "447").pk, "status": "active"}]
    response = api.patch(RATES, payload, format="json")
    assert response.status_code == 200, response.json()
    assert [(item["prefix"], item["rate_card"]) for item in response.json()] == [
        ("44", card.pk), ("441", card.pk), ("447", other.pk)]
    assert (card.revisions.count(), other.revisions.count()) == (2, 2)
    assert row(card, "441").status == "blocked" and row(card, "44").rate == Decimal("0.5")
    response = api.delete(RATES, [{"id": row(card, "44").pk}, {"id": row(card, "441").pk}], format="json")
    assert response.status_code == 204
    assert set(deck(card)) == {"447"}
    assert card.revisions.count() == 3


def test_bulk_edit_is_all_or_nothing(api, card) -> None:
    before = (RateRevision.objects.count(), Rate.objects.count(), ObjectChange.objects.count())
    payload = [{"id": row(card, "44").pk, "rate": "0.5"}, {"id": row(card, "441").pk, "pulse": 0}]
    response = api.patch(RATES, payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["1"]
    assert (RateRevision.objects.count(), Rate.objects.count(), ObjectChange.objects.count()) == before


def test_viewer_cannot_write_rows(api_for, viewer_user, card) -> None:
    client = api_for(viewer_user)
    before = (RateRevision.objects.count(), Rate.objects.count(), ObjectChange.objects.count())
    target = row(card, "44")
    assert client.patch(rate_url(target.pk), {"rate": "1"}, format="json").status_code == 403
    assert client.post(RATES, {"rate_card": card.pk, "prefix": "1", "rate": "1"}, format="json").status_code == 403
    assert client.delete(rate_url(target.pk)).status_code == 403
    assert (RateRevision.objects.count(), Rate.objects.count(), ObjectChange.objects.count()) == before
    assert client.get(RATES).status_code == 200


def test_rows_are_not_imported_row_by_row(api) -> None:
    assert api.post(f"{RATES}import/", "prefix,rate\n1,0.1\n", content_type="text/csv").status_code in (404, 405)


#
# Cards
#


def test_currency_and_kind_are_immutable(api, card) -> None:
    url = reverse("api:ratecard-detail", args=[card.pk])
    before = ObjectChange.objects.count()
    response = api.patch(url, {"currency": "EUR"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"currency": [
        "The currency cannot be changed after the rate card is created (it is USD)."]}
    response = api.patch(url, {"kind": "provider", "provider": make_provider().pk}, format="json")
    assert response.json()["errors"]["kind"] == [
        "The kind cannot be changed after the rate card is created (it is customer)."]
    card.refresh_from_db()
    assert card.currency == "USD"
    assert ObjectChange.objects.count() == before + 1  # the provider made for the second attempt, nothing else


def test_provider_cards_need_a_provider_and_customer_cards_none(api) -> None:
    provider = make_provider()
    url = reverse("api:ratecard-list")
    response = api.post(url, {"name": "Buy", "kind": "provider", "currency": "USD"}, format="json")
    assert response.json()["errors"] == {"provider": ["A provider card needs its provider."]}
    response = api.post(url, {"name": "Sell", "kind": "customer", "currency": "USD", "provider": provider.pk},
                        format="json")
    assert response.json()["errors"] == {
        "provider": ["A customer card has no provider; it names provider cards as egress cards."]}
    assert api.post(url, {"name": "Buy", "kind": "provider", "currency": "USD", "provider": provider.pk},
                    format="json").status_code == 201


def test_egress_cards_are_provider_cards_in_the_same_currency(api) -> None:
    usd = make_card(name="Carrier USD", kind="provider")
    eur = make_card(name="Carrier EUR", kind="provider", currency="EUR")
    sell = make_card(name="Sell EUR", currency="EUR")
    url = reverse("api:ratecard-list")
    response = api.post(url, {"name": "Sell", "kind": "customer", "currency": "USD",
                              "egress_cards": [usd.pk, eur.pk, sell.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"egress_cards": [
        "Carrier EUR prices in EUR but this card bills in USD: sell and buy rates are compared directly, so they "
        "must share a currency.",
        "Sell EUR is a customer card; egress cards are provider cards."]}
    assert not RateCard.objects.filter(name="Sell").exists()
    response = api.post(url, {"name": "Sell", "kind": "customer", "currency": "USD", "egress_cards": [usd.pk]},
                        format="json")
    assert response.status_code == 201 and response.json()["egress_cards"] == [usd.pk]
    assert api.get(url, {"egress_card": usd.pk}).json()["count"] == 1
    response = api.patch(reverse("api:ratecard-detail", args=[eur.pk]), {"egress_cards": [usd.pk]}, format="json")
    assert response.json()["errors"] == {"egress_cards": ["Only a customer card has egress cards."]}
    # The egress links are in the audit log, before and after.
    created = RateCard.objects.get(name="Sell")
    response = api.patch(reverse("api:ratecard-detail", args=[created.pk]), {"egress_cards": []}, format="json")
    assert response.status_code == 200
    entry = ObjectChange.objects.filter(object_type__model="ratecard", object_id=created.pk).first()
    assert (entry.prechange_data["egress_cards"], entry.postchange_data["egress_cards"]) == ([usd.pk], [])


def test_deleting_a_card_deletes_its_revisions_and_rows(api, card) -> None:
    keep = make_card(name="Keep")
    load_rates(keep, DECK)
    assert api.delete(reverse("api:ratecard-detail", args=[card.pk])).status_code == 204
    assert Rate.objects.count() == 3 and RateRevision.objects.count() == 1


def test_first_row_of_an_empty_card_makes_revision_1(api) -> None:
    card = make_card(name="Fresh")
    response = api.post(RATES, {"rate_card": card.pk, "prefix": "1", "rate": "0.005"}, format="json")
    assert response.status_code == 201, response.json()
    card.refresh_from_db()
    assert (card.active_revision.number, card.active_revision.row_count) == (1, 1)


def test_revision_and_card_filters(api, card) -> None:
    load_rates(card, "1,USA,0.005000,0.000000,6,6,0,active\n", activate=False)
    revisions = reverse("api:raterevision-list")
    assert [r["number"] for r in api.get(revisions, {"rate_card": card.pk}).json()["results"]] == [2, 1]
    assert [r["number"] for r in api.get(revisions, {"rate_card": card.pk, "active": "true"}).json()["results"]] \
        == [1]
    assert [r["number"] for r in api.get(revisions, {"rate_card": card.pk, "active": "false"}).json()["results"]] \
        == [2]
    provider_card = make_card(name="Carrier", kind="provider")
    cards = reverse("api:ratecard-list")
    assert [c["name"] for c in api.get(cards, {"kind": "provider"}).json()["results"]] == ["Carrier"]
    assert api.get(cards, {"provider": provider_card.provider_id}).json()["count"] == 1
    body = api.get(reverse("api:ratecard-detail", args=[card.pk])).json()
    assert (body["active_revision_number"], body["row_count"]) == (1, 3)
