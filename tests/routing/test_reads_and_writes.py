"""The selectors the routing views read through and the services they write through (beyond rate cards and routes,
which have their own tests)."""

import pytest
from django.core.exceptions import ValidationError

from tests.factories import make_customer
from tests.routing.helpers import load_rates, make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.routing.models import CliRule, Provider
from trunkline.routing.selectors import (
    card_revision,
    card_revisions,
    cli_rules,
    customer_cards_using,
    revision_rates,
)
from trunkline.routing.services.providers import provider_save
from trunkline.routing.services.routes import cli_rule_save

pytestmark = pytest.mark.django_db


def test_revision_rates_are_by_prefix_and_narrowed_by_a_prefix_start() -> None:
    card = make_card()
    revision = load_rates(card, "447,UK Mobile,0.01,0,1,1,0,active\n44,UK,0.02,0,1,1,0,active\n"
                                "33,France,0.03,0,1,1,0,active\n")
    assert [rate.prefix for rate in revision_rates(revision=revision)] == ["33", "44", "447"]
    assert [rate.prefix for rate in revision_rates(revision=revision, prefix="44")] == ["44", "447"]
    assert list(revision_rates(revision=None, prefix="44")) == []


def test_card_revision_is_the_numbered_one_or_the_active_one() -> None:
    card = make_card()
    first = load_rates(card, "44,UK,0.02,0,1,1,0,active\n")
    second = load_rates(card, "44,UK,0.03,0,1,1,0,active\n", activate=False)
    card.refresh_from_db()
    assert card_revision(card, None) == first  # the second was not activated
    assert card_revision(card, 2) == second
    assert card_revision(card, 3) is None
    assert list(card_revisions(card)) == [second, first]


def test_customer_cards_using_a_provider_card_are_by_name() -> None:
    buy = make_card(kind="provider")
    later, earlier = make_card(name="Zulu", egress_cards=[buy]), make_card(name="Alpha", egress_cards=[buy])
    make_card(name="Mike")  # names no egress card
    assert list(customer_cards_using(buy)) == [earlier, later]


def test_provider_save_fills_the_gateway_defaults_and_logs_the_write() -> None:
    with change_context(source="test"):
        provider = provider_save(provider=Provider(name="Carrier", gateways=[{"host": "198.51.100.7"}]))
    provider.refresh_from_db()
    assert provider.gateways == [{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]
    assert ObjectChange.objects.filter(object_id=provider.pk, object_repr="Carrier", action="create").count() == 1


def test_provider_save_refuses_a_bad_gateway_and_writes_nothing() -> None:
    with change_context(source="test"), pytest.raises(ValidationError) as raised:
        provider_save(provider=Provider(name="Carrier", gateways=[{"host": "not a host!"}]))
    assert raised.value.message_dict == {"gateways": ["Gateway 1: 'not a host!' is not an IP address or host name."]}
    assert not Provider.objects.exists()
    assert not ObjectChange.objects.exists()


def test_cli_rule_save_keeps_the_rules_in_the_order_the_switch_tries_them() -> None:
    customer = make_customer()
    with change_context(source="test"):
        first = cli_rule_save(rule=CliRule(customer=customer, cli="^44"))
        second = cli_rule_save(rule=CliRule(customer=customer, cli="^33", rewrite_cli="0033"))
    assert list(cli_rules(customer)) == [first, second]


def test_cli_rule_save_refuses_a_pattern_the_switch_cannot_load_and_writes_nothing() -> None:
    customer = make_customer()
    with change_context(source="test"), pytest.raises(ValidationError) as raised:
        cli_rule_save(rule=CliRule(customer=customer, cli="("))
    assert raised.value.message_dict == {"cli": ["missing ) in '('"]}
    assert not CliRule.objects.exists()
    assert not ObjectChange.objects.filter(object_type__model="clirule").exists()
