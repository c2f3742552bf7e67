from django.db import models


class Direction(models.TextChoices):
    """Seen from the customer's switch (mission page): it sends calls to us, or receives calls from us."""

    SENDS = "sends", "This endpoint sends calls"
    RECEIVES = "receives", "This endpoint receives calls"


class Protocol(models.TextChoices):
    UDP = "udp", "UDP"
    TCP = "tcp", "TCP"
    TLS = "tls", "TLS"


class NatPing(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    UDP = "udp", "Enabled (UDP ping)"
    SIP_TIMEOUT = "sip_timeout", "Enabled (SIP ping, timeout)"


class RewriteType(models.TextChoices):
    # The same values as trunkline.contracts.snapshot.RewriteType, which the switch reads.
    DESTINATION = "destination", "Destination number"
    CLI = "cli", "CLI"
