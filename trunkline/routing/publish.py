"""What feeds the switch: the records and fields the routing snapshot is built from, and the publication of a
new snapshot when a committed change touches one of them.

SOURCES is the one declaration of those fields. A change logged by the audit app is told to `_observe()`
(core.changelog's change observers; registered from RoutingConfig.ready()), which queues the debounced publish
job when the change touches a declared field: a contact's notes, a customer's address or a message delivery
publish nothing. Creating or deleting a row of a source model always counts. A burst of edits, an import or a
bulk change is published once, PUBLISH_DEBOUNCE after the first of them, by `trunkline worker`; a change rolled
back publishes nothing.

Balances, reserved amounts and live call counts are not here: they change with every call, so the switch reads
them through its Counters interface instead of the snapshot. tests/routing/test_publish.py fails when the
builder (routing.snapshot) reads a column not declared here.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from trunkline.core.changelog import Action, register_change_observer
from trunkline.core.jobs import enqueue_after_commit
from trunkline.customers.models import Contact, Customer
from trunkline.routing.models import CliRule, IngressRoute, Provider, RateCard
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser

PUBLISH_SNAPSHOT = "routing.publish_snapshot"
PUBLISH_DEBOUNCE = timedelta(seconds=2)

# Model -> the fields the snapshot builder reads (by field name; a many-to-many field is its links). The rows of
# a rate card's revisions never change once written: a card's rows change when `active_revision` moves.
SOURCES: dict[type[Model], frozenset[str]] = {
    Customer: frozenset({"name", "status", "debit_limit", "channels", "cps", "email_verification",
                         "mobile_verification"}),
    # A customer counts as verified when one of its contacts is.
    Contact: frozenset({"customer", "email_verified", "mobile_verified"}),
    IpAuth: frozenset({"customer", "ip", "direction", "channels", "cps", "tech_prefix", "dial_pattern",
                       "cli_authentication"}),
    SipUser: frozenset({"customer", "username", "ha1", "channels", "cps", "ip_whitelist"}),
    ParameterRewrite: frozenset({"ip_auth", "sip_user", "type", "match", "replace", "order"}),
    Provider: frozenset({"name", "status", "gateways", "channels", "cps", "tech_prefix"}),
    RateCard: frozenset({"name", "currency", "provider", "active_revision", "egress_cards"}),
    IngressRoute: frozenset({"customer", "rate_card", "tech_prefix", "dial_string", "enabled", "channels", "cps",
                             "max_duration", "recording", "profit_assurance", "capped_rate",
                             "provider_capped_rate", "block_connect_cost", "lock", "exclude", "strategy",
                             "weights"}),
    CliRule: frozenset({"customer", "cli", "pai", "rewrite_cli", "rewrite_pai", "forced", "direction",
                        "dialed_number_match", "use_did"}),
}


def _observe(subject: Model | type[Model], action: Action, fields: frozenset[str] | None) -> None:
    """Queue the publication when this logged change changes what the switch reads."""
    model = subject if isinstance(subject, type) else type(subject)
    declared = SOURCES.get(model._meta.concrete_model)
    if declared is not None and (action != "update" or fields is None or not declared.isdisjoint(fields)):
        enqueue_after_commit((PUBLISH_SNAPSHOT,))


def _check_sources() -> None:
    """A declared name that is no field of its model (a rename) would silently stop publishing its changes; a
    field the audit log ignores never reaches the observer."""
    for model, names in SOURCES.items():
        known = {field.name for field in model._meta.get_fields()
                 if field.concrete or (field.many_to_many and not field.auto_created)}
        missing = names - known
        ignored = names & set(getattr(model, "audit_ignored_fields", ()))
        if missing or ignored:
            raise ImproperlyConfigured(f"routing.publish.SOURCES[{model.__name__}] names "
                                       f"{sorted(missing | ignored)}: not a field of the model, or one the audit "
                                       f"log ignores.")


def register() -> None:
    """Follow the logged changes (RoutingConfig.ready())."""
    _check_sources()
    register_change_observer(_observe)
