from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "trunkline.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the background bulk import's job handler with the worker.
        from trunkline.core import bulk_import  # noqa: F401
