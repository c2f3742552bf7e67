from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "trunkline.customers"
    label = "customers"
    verbose_name = "Customers"
