"""A card's billing terms set in the card form in a real Chromium and shown on the card page."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

if os.environ.get("TRUNKLINE_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import Page, expect

from tests.routing.helpers import load_rates, make_card
from trunkline.routing.models import RateCard

pytestmark = pytest.mark.e2e


def test_operator_sets_the_billing_terms(operator_page: Page, live_server) -> None:
    card = make_card(name="Retail")
    load_rates(card, "44,UK,0.0150,0,30,6,0,active\n")
    page = operator_page
    page.goto(live_server.url + reverse("routing:ratecard_edit", args=[card.pk]))
    page.get_by_label("Billing precision").fill("2")
    page.get_by_label("Rounding method").select_option("half_down")
    page.get_by_label("Duration rounding").select_option("half_up")
    if os.environ.get("TRUNKLINE_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['TRUNKLINE_SCREENSHOTS']}/ratecard-edit.png", full_page=True)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("billing-terms")).to_contain_text("2 dp, half-down")
    expect(page.get_by_test_id("duration-rounding")).to_have_text("Half-up")
    if os.environ.get("TRUNKLINE_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['TRUNKLINE_SCREENSHOTS']}/ratecard.png", full_page=True)
    card = RateCard.objects.get(pk=card.pk)
    assert (card.billing_precision, card.rounding_method, card.duration_rounding) == (2, "half_down", "half_up")
