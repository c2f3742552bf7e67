from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "trunkline.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # Registers the job handlers (scheduled activation, snapshot publication) with the worker.
        from trunkline.routing import snapshot  # noqa: F401
        from trunkline.routing.services import ratecards  # noqa: F401
