"""The Provider page's tabs beyond its form: a higher app (cdrs's Stats) registers one from its AppConfig.ready(), as
card tabs do in core.cardtabs, and routing's provider page lists them without importing that app. A tab is a URL
name taking the provider's pk; every role sees it (the pages behind it check their own rights).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class ProviderTab:
    key: str
    label: str
    url_name: str  # takes the provider's pk
    order: int

    def url(self, provider_pk: int) -> str:
        return reverse(self.url_name, args=[provider_pk])


_registry: dict[str, ProviderTab] = {}


def register(key: str, label: str, url_name: str, order: int) -> None:
    if key in _registry:
        raise ValueError(f"A provider tab with the key {key!r} is already registered ({_registry[key].url_name}).")
    _registry[key] = ProviderTab(key=key, label=label, url_name=url_name, order=order)


def tabs(provider_pk: int, active: str) -> list[dict[str, object]]:
    """The registered tabs for one provider, in order, as the tab strip draws them."""
    return [{"label": tab.label, "url": tab.url(provider_pk), "active": tab.key == active}
            for tab in sorted(_registry.values(), key=lambda tab: (tab.order, tab.key))]
