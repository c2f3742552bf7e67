"""A card's billing terms (precision, rounding method, duration rounding) through the API, the form and the card
page, audited; and the activation history every way a revision goes live records."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.routing.helpers import load_rates, make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.routing.models import RateActivation, RateCard, RateRevision
from trunkline.routing.ratefile import RateValues
from trunkline.routing.services.ratecards import (
    rate_card_edit,
    rate_card_rollback,
    rate_revision_activate,
    rate_revisions_activate_due,
)

NOON = datetime(2026, 12, 1, 12, tzinfo=UTC)
LIST = reverse("api:ratecard-list")


def test_a_new_card_bills_at_4_places_rounding_up_and_whole_seconds_up(api) -> None:
    response = api.post(LIST, {"name": "Retail", "kind": "customer", "currency": "USD"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["billing_precision"], body["rounding_method"], body["duration_rounding"]) == (4, "up", "full_up")


def test_the_api_sets_and_audits_the_terms(api) -> None:
    card = make_card(name="Retail")
    url = reverse("api:ratecard-detail", args=[card.pk])
    response = api.patch(url, {"billing_precision": 2, "rounding_method": "half_down",
                               "duration_rounding": "half_up"}, format="json")
    assert response.status_code == 200, response.json()
    card.refresh_from_db()
    assert (card.billing_precision, card.rounding_method, card.duration_rounding) == (2, "half_down", "half_up")
    change = ObjectChange.objects.filter(object_id=card.pk, action="update").latest("id")
    assert (change.prechange_data["billing_precision"], change.postchange_data["billing_precision"]) == (4, 2)
    assert (change.prechange_data["rounding_method"], change.postchange_data["rounding_method"]) == ("up", "half_down")
    assert change.postchange_data["duration_rounding"] == "half_up"


@pytest.mark.parametrize(("data", "errors"), [
    ({"billing_precision": 7}, {"billing_precision": ["Ensure this value is less than or equal to 6."]}),
    ({"billing_precision": -1}, {"billing_precision": ["Ensure this value is greater than or equal to 0."]}),
    ({"rounding_method": "sideways"}, {"rounding_method": ['"sideways" is not a valid choice.']}),
    ({"duration_rounding": "up"}, {"duration_rounding": ['"up" is not a valid choice.']}),
])
def test_the_api_refuses_impossible_terms_and_writes_nothing(api, data, errors) -> None:
    card = make_card(name="Retail")
    before = ObjectChange.objects.count()
    response = api.patch(reverse("api:ratecard-detail", args=[card.pk]), data, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    card.refresh_from_db()
    assert (card.billing_precision, card.rounding_method, card.duration_rounding) == (4, "up", "full_up")
    assert ObjectChange.objects.count() == before


def test_the_form_sets_the_terms_and_the_card_page_shows_them(web: Client, setup_context: None) -> None:
    data = {"name": "Retail", "kind": "customer", "currency": "USD", "strategy": "lcr", "billing_precision": "2",
            "rounding_method": "half_down", "duration_rounding": "full_down"}
    response = web.post(reverse("routing:ratecard_add"), data)
    card = RateCard.objects.get(name="Retail")
    assert response["Location"] == reverse("routing:ratecard", args=[card.pk])
    assert (card.billing_precision, card.rounding_method, card.duration_rounding) == (2, "half_down", "full_down")
    page = web.get(card.get_absolute_url()).content.decode()
    assert ('data-testid="billing-terms"><span class="label">Billing</span><span class="value" title="2 decimals, '
            'rounded half-down (5 and below down)">2 dp, half-down</span>') in page
    assert '<span class="value" data-testid="duration-rounding">Full-down</span>' in page
    # An edit that leaves the terms out keeps them.
    web.post(reverse("routing:ratecard_edit", args=[card.pk]), {**data, "billing_precision": "", "notes": "n"})
    card.refresh_from_db()
    assert (card.notes, card.billing_precision) == ("n", 2)
    refused = web.post(reverse("routing:ratecard_edit", args=[card.pk]), {**data, "billing_precision": "9"})
    assert "Ensure this value is less than or equal to 6." in refused.content.decode()
    card.refresh_from_db()
    assert card.billing_precision == 2


def test_the_edit_form_offers_the_terms(web: Client, setup_context: None) -> None:
    card = make_card(name="Retail")
    page = web.get(reverse("routing:ratecard_edit", args=[card.pk])).content.decode()
    for name in ("billing_precision", "rounding_method", "duration_rounding"):
        assert f'name="{name}"' in page
    assert '<option value="half_up">Half-up (5-9 up)</option>' in page


def history(card: RateCard) -> list[tuple[int, datetime]]:
    return list(RateActivation.objects.filter(card=card).order_by("live_from", "id").values_list(
        "revision__number", "live_from"))


def test_every_way_a_revision_goes_live_is_recorded(db) -> None:
    card = make_card(name="Retail")
    load_rates(card, "44,UK,0.01,0,1,1,0,active\n", now=NOON)
    load_rates(card, "44,UK,0.02,0,1,1,0,active\n", activate=False, now=NOON)
    load_rates(card, "44,UK,0.03,0,1,1,0,active\n", date_live=NOON + timedelta(hours=3), now=NOON)
    assert history(card) == [(1, NOON)]  # an inactive or scheduled import is not live
    with change_context(source="test"):
        rate_revision_activate(revision=RateRevision.objects.get(card=card, number=2), now=NOON + timedelta(hours=1))
        rate_card_rollback(card=card, now=NOON + timedelta(hours=2))
        rate_revisions_activate_due(now=NOON + timedelta(hours=3, minutes=1))
        rate_card_edit(card=card, upserts=[RateValues("33", "France", Decimal("0.05"), Decimal(0), 1, 1, 0, "active")])
    rows = history(card)
    assert rows[:4] == [(1, NOON), (2, NOON + timedelta(hours=1)), (1, NOON + timedelta(hours=2)),
                        (3, NOON + timedelta(hours=3, minutes=1))]
    assert len(rows) == 5 and rows[4][0] == 4  # the edit's revision, live from now


def test_the_migration_backfills_the_history_from_activated_at(db) -> None:
    card = make_card(name="Retail")
    load_rates(card, "44,UK,0.01,0,1,1,0,active\n", now=NOON)
    load_rates(card, "44,UK,0.02,0,1,1,0,active\n", now=NOON + timedelta(hours=1))
    load_rates(card, "44,UK,0.03,0,1,1,0,active\n", activate=False, now=NOON)
    RateActivation.objects.all().delete()
    migration = importlib.import_module("trunkline.routing.migrations.0008_card_billing_terms_activations")
    migration.backfill_activations(apps, None)
    assert history(card) == [(1, NOON), (2, NOON + timedelta(hours=1))]
