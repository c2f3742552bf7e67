"""Providers (carriers): the gateways that terminate the calls their provider cards win."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from trunkline.core.models import ChangeLoggedModel
from trunkline.core.validators import reject_control_characters
from trunkline.routing.choices import ProviderStatus, Transport

DEFAULT_SIP_PORT = 5060
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*\.?$")
validate_digits = RegexValidator(r"^\d+$", "Digits only.", code="digits")


def normalize_gateways(value: Any) -> Any:
    """Fill the defaults of each gateway (port 5060, UDP) so the stored list is complete; leave junk for the
    validator to name."""
    if not isinstance(value, list):
        return value
    gateways = []
    for item in value:
        if isinstance(item, dict):
            item = {"host": str(item.get("host", "")).strip(), "port": item.get("port") or DEFAULT_SIP_PORT,
                    "transport": str(item.get("transport") or Transport.UDP).lower()}
        gateways.append(item)
    return gateways


def validate_gateways(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of gateways, each {host, port, transport}.", code="gateways")
    seen = set()
    for index, gateway in enumerate(value, start=1):
        if not isinstance(gateway, dict) or set(gateway) - {"host", "port", "transport"}:
            raise ValidationError(f"Gateway {index}: give host, and optionally port and transport, nothing else.",
                                  code="gateways")
        host, port, transport = gateway.get("host", ""), gateway.get("port"), gateway.get("transport")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not HOSTNAME.match(host or ""):
                raise ValidationError(f"Gateway {index}: '{host}' is not an IP address or host name.",
                                      code="gateways") from None
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(f"Gateway {index}: the port must be a number from 1 to 65535.", code="gateways")
        if transport not in Transport.values:
            raise ValidationError(f"Gateway {index}: the transport must be udp, tcp or tls.", code="gateways")
        if (host.lower(), port, transport) in seen:
            raise ValidationError(f"Gateway {index}: {host}:{port} ({transport}) is listed twice.", code="gateways")
        seen.add((host.lower(), port, transport))


class Provider(ChangeLoggedModel):
    """A carrier that terminates calls: its gateways receive the calls its provider cards win."""

    name = models.CharField(max_length=100, unique=True, validators=[reject_control_characters])
    status = models.CharField(max_length=10, choices=ProviderStatus.choices, default=ProviderStatus.ACTIVE)
    gateways = models.JSONField(default=list, blank=True, validators=[validate_gateways],
                                help_text='[{"host": "198.51.100.7", "port": 5060, "transport": "udp"}]; port '
                                          "defaults to 5060, transport to udp.")
    channels = models.PositiveIntegerField(default=0, help_text="Concurrent calls; 0 = unlimited.")
    cps = models.PositiveIntegerField("flow speed (CPS)", default=0, help_text="Calls per second; 0 = unlimited.")
    tech_prefix = models.CharField(max_length=20, blank=True, validators=[validate_digits],
                                   help_text="Added in front of the number on calls sent to this provider.")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("routing:provider_edit", args=[self.pk])  # a provider is its form: no separate page

    def clean_fields(self, exclude: Any = None) -> None:
        self.gateways = normalize_gateways(self.gateways)
        super().clean_fields(exclude=exclude)
