from django.core.management.base import BaseCommand
from django.db import transaction

from trunkline.core.context import change_context
from trunkline.customers.demo import demo_customers
from trunkline.customers.models import Customer


class Command(BaseCommand):
    help = "Create about 50 believable demo customers. Idempotent: existing ones (by name) are left as they are."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Only when there are no customers yet.")

    def handle(self, *args, if_empty: bool, **options) -> None:
        if if_empty and Customer.objects.exists():
            self.stdout.write("Customers exist already; no demo data loaded.")
            return
        created = 0
        with change_context(source="command"), transaction.atomic():
            existing = set(Customer.objects.values_list("name", flat=True))
            for data in demo_customers():
                if data["name"] in existing:
                    continue
                customer = Customer(**data)
                customer.full_clean()
                customer.save()
                created += 1
        self.stdout.write(f"Demo data: {created} customers created, {50 - created} already there.")
