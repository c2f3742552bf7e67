from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "trunkline.ledger"
    label = "ledger"
    verbose_name = "Ledger"
