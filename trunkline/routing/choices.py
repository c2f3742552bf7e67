from django.db import models


class ProviderStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Transport(models.TextChoices):
    UDP = "udp", "UDP"
    TCP = "tcp", "TCP"
    TLS = "tls", "TLS"


class RateCardKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PROVIDER = "provider", "Provider"


class RoutingStrategy(models.TextChoices):
    LCR = "lcr", "LCR"
    REVERSE_LCR = "reverse_lcr", "Reverse LCR"
    WEIGHTED = "weighted", "Weighted"


class RateStatus(models.TextChoices):
    # The same values as trunkline.contracts.snapshot.RateStatus, which the switch reads.
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"


class RevisionSource(models.TextChoices):
    IMPORT = "import", "CSV import"
    EDIT = "edit", "Row edit"
