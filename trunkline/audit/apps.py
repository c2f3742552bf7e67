from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "trunkline.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from trunkline.audit import handlers

        handlers.connect()
