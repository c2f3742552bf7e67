"""The Django choices of values the switch reads are the contract's enums, value for value (one source)."""

from enum import StrEnum
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import models

from trunkline.contracts import snapshot
from trunkline.core.choices import text_choices
from trunkline.customers.models import Customer
from trunkline.routing.choices import RoutingStrategy, Transport
from trunkline.routing.models import CliRule, IngressRoute, Provider, Rate, RateCard
from trunkline.sipauth.models import IpAuth, ParameterRewrite

# Each model field that stores a value the switch reads, with the contract enum it must match.
FIELDS = [
    (Customer._meta.get_field("status"), snapshot.CustomerStatus),
    (Provider._meta.get_field("status"), snapshot.ProviderStatus),
    (RateCard._meta.get_field("strategy"), snapshot.Strategy),
    (Rate._meta.get_field("status"), snapshot.RateStatus),
    (IngressRoute._meta.get_field("strategy"), snapshot.Strategy),
    (IngressRoute._meta.get_field("recording"), snapshot.Recording),
    (CliRule._meta.get_field("direction"), snapshot.CliDirection),
    (CliRule._meta.get_field("use_did"), snapshot.UseDid),
    (IpAuth._meta.get_field("direction"), snapshot.IpDirection),
    (ParameterRewrite._meta.get_field("type"), snapshot.RewriteType),
]
# Contract enums no model field stores: Transport lives in Provider.gateways (JSON, checked against the choices
# below); AuthKind is which of two foreign keys a parameter rewrite has.
NOT_A_FIELD = {snapshot.Transport, snapshot.AuthKind}


@pytest.mark.parametrize(("field", "enum"), FIELDS, ids=lambda item: getattr(item, "name", None) or str(item))
def test_a_model_field_offers_exactly_the_values_of_its_contract_enum(field: models.Field, enum: type[StrEnum]) -> None:
    assert [value for value, _ in field.choices] == [member.value for member in enum]
    assert field.default in set(enum)


def test_every_contract_enum_is_checked_against_the_django_side() -> None:
    enums = {value for value in vars(snapshot).values()
             if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum}
    assert enums - NOT_A_FIELD == {enum for _, enum in FIELDS}, "map a new contract enum to its model field above"


def test_gateway_transports_are_the_contracts() -> None:
    assert Transport.values == [member.value for member in snapshot.Transport]


def test_text_choices_keeps_names_and_values_and_takes_the_labels() -> None:
    assert RoutingStrategy.choices == [("lcr", "LCR"), ("reverse_lcr", "Reverse LCR"), ("weighted", "Weighted")]
    assert RoutingStrategy.REVERSE_LCR == snapshot.Strategy.REVERSE_LCR == "reverse_lcr"
    assert RoutingStrategy(snapshot.Strategy.WEIGHTED).label == "Weighted"
    assert RoutingStrategy.__module__ == "trunkline.routing.choices"
    assert issubclass(RoutingStrategy, models.TextChoices)


def test_text_choices_refuses_a_value_without_a_label_or_a_label_without_a_value() -> None:
    message = r"^Kind: labels must name each value of AuthKind once; missing \['sip_user'\], unknown \['sip'\]\.$"
    with pytest.raises(ValueError, match=message):
        text_choices("Kind", snapshot.AuthKind, {"ip": "IP", "sip": "SIP user"}, module=__name__)


@pytest.mark.django_db
def test_the_models_need_no_new_migration() -> None:
    out = StringIO()
    call_command("makemigrations", check=True, dry_run=True, stdout=out)
    assert out.getvalue() == "No changes detected\n"
