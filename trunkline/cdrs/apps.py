from django.apps import AppConfig


class CdrsConfig(AppConfig):
    name = "trunkline.cdrs"
    label = "cdrs"
    verbose_name = "Call records"
