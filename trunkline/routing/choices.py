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


class Recording(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    SAMPLE_1 = "1", "Sampling 1%"
    SAMPLE_5 = "5", "Sampling 5%"
    SAMPLE_25 = "25", "Sampling 25%"
    SAMPLE_50 = "50", "Sampling 50%"
    ALWAYS = "always", "Enabled (always on)"


class CliDirection(models.TextChoices):
    # The same values as trunkline.contracts.snapshot.CliDirection, which the switch reads.
    OUTBOUND = "outbound", "Outbound (termination)"
    INBOUND = "inbound", "Inbound (origination)"


class UseDid(models.TextChoices):
    # The same values as trunkline.contracts.snapshot.UseDid.
    DISABLED = "disabled", "Disabled"
    FILTER = "filter", "Filter (only the customer's DIDs)"
