from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from trunkline.core.context import change_context
from trunkline.customers.demo import demo_contacts_create, demo_customers, demo_customers_create, demo_settings_outbox
from trunkline.customers.models import Customer
from trunkline.routing.demo import demo_routing


# Here rather than in customers: the demo routing needs routing, and customers may not import it (layers).
class Command(BaseCommand):
    help = ("Create about 50 believable demo customers with their contacts and the routing their calls need: three "
            "providers, rate cards in USD, GBP and EUR, an ingress route and an IP-auth entry per customer billed in "
            "those; point email and SMS at the local outbox unless they are set up. "
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
            contacts = demo_contacts_create()
            routing = demo_routing()
            outbox = demo_settings_outbox()
        self.stdout.write(f"Demo data: {created} customers created, {len(demo_customers()) - created} already there; "
                          f"{contacts} contacts created.")
        self.stdout.write(f"Demo routing: {routing.providers} providers, {routing.rate_cards} rate cards, "
                          f"{routing.ingress_routes} ingress routes, {routing.ip_auths} IP-auth entries created.")
        if outbox:
            self.stdout.write(f"Demo {' and '.join(outbox)}: Setup > Settings send to the outbox; `trunkline outbox` "
                              f"(started by `make run`) writes each message to var/outbox/.")
