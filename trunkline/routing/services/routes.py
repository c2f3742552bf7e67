"""Writes about customers' ingress routes and CLI rules: saving a route with its lock and exclude lists, generating
a tech prefix, saving a CLI rule."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from trunkline.customers.models import Customer
from trunkline.routing.models import CliRule, IngressRoute, RateCard
from trunkline.routing.sharing import check_cli_rule_change, check_route_change

TECH_PREFIX_DIGITS = 4
_TECH_PREFIX_TRIES = 200


def check_route_cards(*, rate_card: RateCard, lock: Sequence[RateCard], exclude: Sequence[RateCard],
                      weights: Mapping[str, int] | None = None) -> None:
    """Lock, exclude and weights speak of the candidate list of step 9 (DESIGN.md), which is the customer card's
    egress cards: a card outside it would do nothing there (or silently mean "no provider"), so it is refused."""
    egress = set(rate_card.egress_cards.values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    strangers = sorted(int(key) for key in weights or {} if int(key) not in egress)
    if strangers:
        names = dict(RateCard.objects.filter(pk__in=strangers).values_list("pk", "name"))
        errors["weights"] = [f"{names.get(key, f'Card #{key}')} is not an egress card of {rate_card}; only its egress "
                             f"cards can be weighted." for key in strangers]
    for name, cards in (("lock", lock), ("exclude", exclude)):
        problems = [f"{card} is not an egress card of {rate_card}; only its egress cards can be "
                    f"{'locked' if name == 'lock' else 'excluded'}." for card in cards if card.pk not in egress]
        if problems:
            errors[name] = problems
    both = sorted({card.pk for card in lock} & {card.pk for card in exclude})
    if both and "exclude" not in errors:
        names = ", ".join(str(card) for card in exclude if card.pk in both)
        errors["exclude"] = [f"{names} cannot be both locked and excluded."]
    if errors:
        raise ValidationError(errors)


def ingress_route_save(*, route: IngressRoute, lock: Sequence[RateCard] | None = None,
                       exclude: Sequence[RateCard] | None = None) -> IngressRoute:
    """Create or update a route; `lock` and `exclude` (None = unchanged) replace its provider-card lists."""
    route.full_clean()
    stored = route.pk is not None
    check_route_cards(rate_card=route.rate_card,
                      lock=list(route.lock.all()) if lock is None and stored else lock or [],
                      exclude=list(route.exclude.all()) if exclude is None and stored else exclude or [],
                      weights=route.weights)
    # The audit entry of this save shows the lists as they are about to be, so one write is one entry.
    route._pending_links = {name: cards for name, cards in (("lock", lock), ("exclude", exclude)) if cards is not None}
    try:
        with transaction.atomic():
            check_route_change(route)
            route.save()
            for name, cards in route._pending_links.items():
                getattr(route, name).set(cards)
    finally:
        del route._pending_links
    return route


def generate_tech_prefix(*, customer: Customer, rng: random.Random | None = None) -> str:
    """A random tech prefix no route of the customer uses: digits then `#`. The `#` ends it, so it can neither
    start another prefix nor be read as the start of a dialled number; it must also not extend one in use."""
    used = set(customer.ingress_routes.exclude(tech_prefix="").values_list("tech_prefix", flat=True))
    rng = rng or random.Random()
    for _ in range(_TECH_PREFIX_TRIES):
        prefix = f"{rng.randrange(10 ** TECH_PREFIX_DIGITS):0{TECH_PREFIX_DIGITS}d}#"
        if not any(prefix.startswith(other) or other.startswith(prefix) for other in used):
            return prefix
    raise ValidationError({"customer": [f"No free tech prefix found for {customer}; type one."]})


def cli_rule_save(*, rule: CliRule) -> CliRule:
    """Create or update a CLI rule; full_clean() refuses a pattern the switch could not load, alone or with the
    customer's other rules, and a rule accepting any CLI is refused where CLI authentication tells the customer
    apart on a shared IP (routing.sharing)."""
    rule.full_clean()
    with transaction.atomic():
        check_cli_rule_change(rule)
        rule.save()
    return rule


def cli_rule_delete(*, rule: CliRule) -> None:
    """Delete a CLI rule, unless it is the last outbound one of a customer that CLI authentication tells apart on
    a shared IP (with none, every CLI passes)."""
    with transaction.atomic():
        check_cli_rule_change(rule, deleting=True)
        rule.delete()
