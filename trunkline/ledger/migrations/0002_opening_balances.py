"""An opening entry for every customer whose balance is not yet the sum of its entries (balances set before the
ledger existed), so that from here on balance == sum(entries) holds for every customer."""

from decimal import Decimal

from django.db import migrations
from django.db.models import Sum
from django.utils import timezone

REFERENCE = "ledger migration 0002"


def open_balances(apps, schema_editor) -> None:
    Customer = apps.get_model("customers", "Customer")
    LedgerEntry = apps.get_model("ledger", "LedgerEntry")
    held = dict(LedgerEntry.objects.values_list("customer_id").annotate(total=Sum("amount")).order_by())
    now = timezone.now()
    entries = [
        LedgerEntry(customer_id=pk, kind="opening", amount=balance - held.get(pk, Decimal("0")), balance_after=balance,
                    reference=REFERENCE, reason="The balance the customer had before the ledger existed.",
                    created_at=now)
        for pk, balance in Customer.objects.order_by("pk").values_list("pk", "balance").iterator(chunk_size=2000)
        if balance != held.get(pk, Decimal("0"))
    ]
    LedgerEntry.objects.bulk_create(entries, batch_size=2000)


def close_balances(apps, schema_editor) -> None:
    apps.get_model("ledger", "LedgerEntry").objects.filter(kind="opening", reference=REFERENCE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(open_balances, close_balances),
    ]
