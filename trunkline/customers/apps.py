from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "trunkline.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        # Registers the message-sending job handler with the worker.
        from trunkline.customers import services  # noqa: F401
