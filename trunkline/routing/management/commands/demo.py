from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from trunkline.core.context import change_context
from trunkline.customers.demo import demo_customers, demo_customers_create
from trunkline.customers.models import Customer
from trunkline.routing.demo import demo_routing


# Here rather than in customers: the demo routing needs routing, and customers may not import it (layers).
class Command(BaseCommand):
    help = ("Create about 50 believable demo customers and the routing their calls need: three providers, rate "
            "cards in USD, GBP and EUR, an ingress route and an IP-auth entry per customer billed in those. "
            "Idempotent: what exists already (by name) is left as it is.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Only when there are no customers yet.")

    def handle(self, *args: Any, if_empty: bool, **options: Any) -> None:
        if if_empty and Customer.objects.exists():
            self.stdout.write("Customers exist already; no demo data loaded.")
            return
        # One run, one request id in the audit log; all of it or nothing.
        with change_context(source="command"), transaction.atomic():
            created = demo_customers_create()
            routing = demo_routing()
        self.stdout.write(f"Demo data: {created} customers created, {len(demo_customers()) - created} already there.")
        self.stdout.write(f"Demo routing: {routing.providers} providers, {routing.rate_cards} rate cards, "
                          f"{routing.ingress_routes} ingress routes, {routing.ip_auths} IP-auth entries created.")
