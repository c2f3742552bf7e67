from django.db import models

from trunkline.contracts import snapshot
from trunkline.core.choices import text_choices

# The switch reads these values: they come from the contract, only the labels are written here.
# Seen from the customer's switch (mission page): it sends calls to us, or receives calls from us.
Direction = text_choices("Direction", snapshot.IpDirection, {
    "sends": "This endpoint sends calls", "receives": "This endpoint receives calls"}, module=__name__)
RewriteType = text_choices("RewriteType", snapshot.RewriteType, {"destination": "Destination number", "cli": "CLI"},
                           module=__name__)


class Protocol(models.TextChoices):
    UDP = "udp", "UDP"
    TCP = "tcp", "TCP"
    TLS = "tls", "TLS"


class NatPing(models.TextChoices):
    DISABLED = "disabled", "Disabled"
    UDP = "udp", "Enabled (UDP ping)"
    SIP_TIMEOUT = "sip_timeout", "Enabled (SIP ping, timeout)"
