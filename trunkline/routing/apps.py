from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "trunkline.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # Registers the scheduled-activation job handler with the worker.
        from trunkline.routing import services  # noqa: F401
