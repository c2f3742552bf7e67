from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "trunkline.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from trunkline.core import cardtabs
        from trunkline.customers import services  # noqa: F401  (registers the message-sending job handler)

        # The card's own tabs; the other apps register theirs (Auth, Routing, Latest Calls) between these two.
        cardtabs.register("main", "Main", "customers:customer", order=10)
        cardtabs.register("audit_log", "Audit Log", "customers:customer_audit", order=1000)
