from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "trunkline.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from trunkline.core import cardtabs

        # After Dialogs (60) and before DID (80): where the mission page has Payments, the ledger's neighbour.
        cardtabs.register("ledger", "Ledger", "ledger:ledger_tab", order=75)
