"""Writes about providers (carriers)."""

from __future__ import annotations

from trunkline.routing.models import Provider


def provider_save(*, provider: Provider) -> Provider:
    """Create or update a provider; full_clean() fills in its gateways' default port and transport first."""
    provider.full_clean()
    provider.save()
    return provider
