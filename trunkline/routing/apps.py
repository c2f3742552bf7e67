from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "trunkline.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # Registers the job handlers (scheduled activation, snapshot publication) with the worker.
        from trunkline.routing import services, snapshot  # noqa: F401
