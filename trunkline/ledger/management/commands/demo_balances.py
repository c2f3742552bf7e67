from typing import Any

from django.core.management.base import BaseCommand

from trunkline.core.context import change_context
from trunkline.ledger.demo import demo_opening_balances


class Command(BaseCommand):
    help = ("Give the demo customers (`trunkline demo`) opening balances through the ledger: prepaid ones a top-up, "
            "postpaid ones part of their credit used. Idempotent: a customer with ledger entries is left alone.")

    def handle(self, *args: Any, **options: Any) -> None:
        with change_context(source="command"):
            posted = demo_opening_balances()
        self.stdout.write(f"Demo balances: {posted} opening ledger entries posted.")
