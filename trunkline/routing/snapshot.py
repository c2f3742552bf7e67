"""Build the routing snapshot from the database and publish it as the file every switch node loads.

`snapshot_build()` takes a fixed number of queries whatever the data size (13: customers, verified contacts,
IP-auth entries, SIP users, parameter rewrites, providers, rate cards, egress links, rate rows of the active
revisions, ingress routes, their lock and exclude links, CLI rules). Rows are read with values_list(), and rate
rows through iterator(), so 500,000 prefixes never become 500,000 model instances.

It reads only the fields routing.publish.SOURCES declares (a test holds it to that), so that a committed
change to one of them, and only such a change, queues the debounced publish job that runs snapshot_publish().
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from trunkline.contracts import snapshot as contract
from trunkline.contracts.codec import SNAPSHOT_FILE, write_snapshot
from trunkline.core.jobs import enqueue_after_commit, job_handler
from trunkline.core.models import Job
from trunkline.customers.models import Contact, Customer
from trunkline.routing.models import CliRule, IngressRoute, Provider, Rate, RateCard
from trunkline.routing.publish import PUBLISH_DEBOUNCE, PUBLISH_SNAPSHOT, SOURCES
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser

# trunkline.ledger.services.PUBLISH_BALANCES, by its value: routing sits below the ledger and cdrs.
PUBLISH_BALANCES = "balances.publish"

_RATE_CHUNK = 10_000


def snapshot_build() -> contract.RoutingSnapshot:
    generated_at = timezone.now()
    return contract.RoutingSnapshot(
        # Milliseconds since the epoch: increases from one publication to the next without a counter table.
        revision=int(generated_at.timestamp() * 1000),
        generated_at=generated_at,
        customers=_customers(),
        ip_auths=tuple(
            contract.IpAuth(id=pk, customer_id=customer_id, ip=ip, direction=contract.IpDirection(direction),
                            channels=channels, cps=cps, tech_prefix=tech_prefix, cli_authentication=cli_auth,
                            dial_pattern=dial_pattern)
            for pk, customer_id, ip, direction, channels, cps, tech_prefix, cli_auth, dial_pattern in (
                IpAuth.objects.order_by("pk").values_list("pk", "customer_id", "ip", "direction", "channels", "cps",
                                                          "tech_prefix", "cli_authentication", "dial_pattern"))),
        sip_users=tuple(
            contract.SipUser(id=pk, customer_id=customer_id, username=username, ha1=ha1, channels=channels,
                             cps=cps, ip_whitelist=tuple(whitelist))
            for pk, customer_id, username, ha1, channels, cps, whitelist in SipUser.objects.order_by(
                "pk").values_list("pk", "customer_id", "username", "ha1", "channels", "cps", "ip_whitelist")),
        # to_contract() reads only the rule's own columns (declared in SOURCES): one query, no per-row lookups.
        parameter_rewrites=tuple(rule.to_contract() for rule in ParameterRewrite.objects.only(
            *SOURCES[ParameterRewrite]).order_by("pk")),
        providers=tuple(
            contract.Provider(id=pk, name=name, status=contract.ProviderStatus(status), channels=channels, cps=cps,
                              tech_prefix=tech_prefix,
                              gateways=tuple(contract.Gateway(host=gateway["host"], port=gateway["port"],
                                                              transport=contract.Transport(gateway["transport"]))
                                             for gateway in gateways))
            for pk, name, status, gateways, channels, cps, tech_prefix in Provider.objects.order_by(
                "pk").values_list("pk", "name", "status", "gateways", "channels", "cps", "tech_prefix")),
        rate_cards=_rate_cards(),
        ingress_routes=_ingress_routes(),
        cli_rules=tuple(rule.to_contract() for rule in CliRule.objects.only(*SOURCES[CliRule]).order_by("pk")),
    )


def snapshot_publish(path: Path | None = None) -> Path:
    """Write the snapshot atomically (the codec renames a finished temporary file over the old one), and queue
    the balances publication (balances.json beside it, written by the cdrs app's handler of PUBLISH_BALANCES:
    routing sits below cdrs and the ledger, so the job is named by its kind). Balances are not in the snapshot: a
    charge must not republish routing."""
    target = path or Path(settings.VAR_DIR) / SNAPSHOT_FILE
    write_snapshot(snapshot_build(), target)
    enqueue_after_commit((PUBLISH_BALANCES,))
    return target


@dataclass(frozen=True)
class Publication:
    """What the switch nodes have: when the file was last written, and whether changes since wait for the worker."""

    published_at: datetime | None  # None: never published
    pending: bool  # a publish job is queued
    failed: str  # the error of the last publish job, when it failed and none has succeeded since


def snapshot_publication() -> Publication:
    target = Path(settings.VAR_DIR) / SNAPSHOT_FILE
    published_at = datetime.fromtimestamp(target.stat().st_mtime, tz=UTC) if target.exists() else None
    jobs = Job.objects.filter(kind=PUBLISH_SNAPSHOT)
    last = jobs.filter(status__in=(Job.Status.DONE, Job.Status.FAILED)).order_by("-finished", "-id").first()
    return Publication(published_at=published_at, pending=jobs.filter(status=Job.Status.QUEUED).exists(),
                       failed=last.last_error if last is not None and last.status == Job.Status.FAILED else "")


@job_handler(PUBLISH_SNAPSHOT, debounce=PUBLISH_DEBOUNCE)
def publish_snapshot_job(job: Job) -> None:
    snapshot_publish()


def _customers() -> tuple[contract.Customer, ...]:
    # A customer counts as verified when any of its contacts is (the verification gate of DESIGN.md step 2).
    email_verified: set[int] = set()
    mobile_verified: set[int] = set()
    # Unordered: the contacts' default order (by name) is a column the switch does not read.
    for customer_id, email, mobile in Contact.objects.filter(
            Q(email_verified=True) | Q(mobile_verified=True)).order_by().values_list(
            "customer_id", "email_verified", "mobile_verified"):
        if email:
            email_verified.add(customer_id)
        if mobile:
            mobile_verified.add(customer_id)
    return tuple(
        contract.Customer(id=pk, name=name, status=contract.CustomerStatus(status),
                          debit_limit=debit_limit, channels=channels, cps=cps, email_verification=email_on,
                          mobile_verification=mobile_on, email_verified=pk in email_verified,
                          mobile_verified=pk in mobile_verified)
        for pk, name, status, debit_limit, channels, cps, email_on, mobile_on in Customer.objects.order_by(
            "pk").values_list("pk", "name", "status", "debit_limit", "channels", "cps",
                              "email_verification", "mobile_verification"))


def _rate_cards() -> tuple[contract.RateCard, ...]:
    egress: dict[int, list[int]] = defaultdict(list)
    for customer_card, provider_card in RateCard.egress_cards.through.objects.order_by(
            "from_ratecard_id", "to_ratecard_id").values_list("from_ratecard_id", "to_ratecard_id"):
        egress[customer_card].append(provider_card)
    rows: dict[int, list[contract.RateRow]] = defaultdict(list)
    active = Rate.objects.filter(revision_id__in=RateCard.objects.filter(
        active_revision__isnull=False).values("active_revision_id"))
    for revision_id, prefix, name, rate, fee, mcd, pulse, grace, status in active.order_by(
            "revision_id", "prefix").values_list("revision_id", "prefix", "name", "rate", "connection_fee", "mcd",
                                                 "pulse", "grace", "status").iterator(chunk_size=_RATE_CHUNK):
        rows[revision_id].append(contract.RateRow(prefix=prefix, rate=rate, name=name, connection_fee=fee, mcd=mcd,
                                                  pulse=pulse, grace=grace, status=contract.RateStatus(status)))
    return tuple(
        contract.RateCard(id=pk, name=name, currency=currency, rows=tuple(rows.get(revision_id, ())),
                          provider_id=provider_id, egress_card_ids=tuple(egress.get(pk, ())))
        for pk, name, currency, provider_id, revision_id in RateCard.objects.order_by("pk").values_list(
            "pk", "name", "currency", "provider_id", "active_revision_id"))


def _ingress_routes() -> tuple[contract.IngressRoute, ...]:
    links: dict[str, dict[int, list[int]]] = {}
    for name in ("lock", "exclude"):
        links[name] = defaultdict(list)
        for route_id, card_id in getattr(IngressRoute, name).through.objects.order_by(
                "ingressroute_id", "ratecard_id").values_list("ingressroute_id", "ratecard_id"):
            links[name][route_id].append(card_id)
    fields = ("pk", "customer_id", "rate_card_id", "tech_prefix", "dial_string", "enabled", "channels", "cps",
              "max_duration", "recording", "profit_assurance", "capped_rate", "provider_capped_rate",
              "block_connect_cost", "strategy", "weights")
    return tuple(
        contract.IngressRoute(
            id=pk, customer_id=customer_id, rate_card_id=card_id, tech_prefix=tech_prefix, dial_string=dial_string,
            enabled=enabled, channels=channels, cps=cps, max_duration=max_duration,
            recording=contract.Recording(recording), profit_assurance=profit, capped_rate=capped,
            provider_capped_rate=provider_capped, block_connect_cost=block_fee,
            lock=tuple(links["lock"].get(pk, ())), exclude=tuple(links["exclude"].get(pk, ())),
            strategy=contract.Strategy(strategy),
            weights=tuple(contract.CardWeight(card_id=int(key), weight=weight)
                          for key, weight in sorted(weights.items(), key=lambda item: int(item[0]))))
        for (pk, customer_id, card_id, tech_prefix, dial_string, enabled, channels, cps, max_duration, recording,
             profit, capped, provider_capped, block_fee, strategy, weights) in IngressRoute.objects.order_by(
            "pk").values_list(*fields))
