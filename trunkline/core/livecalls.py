"""Live-call figures and call lists that lower apps show but only a higher app knows.

The call records live in cdrs, above customers and routing in the layering, yet the card's Main tab shows the
channels in use, the board has a live Channels column and routing's Latest Calls tab lists the real calls beside
the SIM calls. So cdrs registers its providers here from its AppConfig.ready(), as apps register card tabs in
cardtabs; the lower apps ask this module and never import cdrs. With nothing registered every customer has 0
channels in use and a tab shows no extra panel.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

# Customer pks -> live channels of those of them that have any (a customer left out has none).
ChannelsSource = Callable[[Collection[int]], Mapping[int, int]]
# Customer pks -> {"asr", "acd" (last 24 h), "last_call_at"} for every asked pk (cdrs's rollups).
TrafficSource = Callable[[Collection[int]], Mapping[int, Mapping[str, Any]]]
# (request, customer) -> the panel's HTML.
PanelRenderer = Callable[[HttpRequest, Any], str]


@dataclass(frozen=True)
class TabPanel:
    key: str
    order: int
    render: PanelRenderer


_channels_source: list[ChannelsSource] = []
_traffic_source: list[TrafficSource] = []
_panels: dict[str, dict[str, TabPanel]] = {}


def register_channels_source(source: ChannelsSource) -> None:
    """The one function that counts live channels per customer (cdrs's call records)."""
    if _channels_source:
        raise ValueError("A live channels source is already registered.")
    _channels_source.append(source)


def channels_in_use(customer_ids: Collection[int]) -> dict[int, int]:
    """Live channels per customer pk, every asked pk present (0 when it has none), in one query of the source."""
    counts = _channels_source[0](customer_ids) if _channels_source and customer_ids else {}
    return {pk: counts.get(pk, 0) for pk in customer_ids}


def register_traffic_source(source: TrafficSource) -> None:
    """The one function that gives the board's traffic figures per customer (cdrs's rollups)."""
    if _traffic_source:
        raise ValueError("A traffic source is already registered.")
    _traffic_source.append(source)


def traffic_figures(customer_ids: Collection[int]) -> dict[int, Mapping[str, Any]]:
    """ASR and ACD of the last 24 h and the last call's time per customer pk, every asked pk present (empty
    figures without a source), in one query of the source."""
    figures = _traffic_source[0](customer_ids) if _traffic_source and customer_ids else {}
    return {pk: figures.get(pk, {}) for pk in customer_ids}


def register_tab_panel(tab: str, key: str, render: PanelRenderer, order: int = 0) -> None:
    """Add a panel to a card tab drawn by a lower app (cdrs's real calls on routing's Latest Calls tab)."""
    panels = _panels.setdefault(tab, {})
    if key in panels:
        raise ValueError(f"The {tab!r} tab already has a panel {key!r}.")
    panels[key] = TabPanel(key=key, order=order, render=render)


def tab_panels(tab: str, request: HttpRequest, customer: Any) -> list[SafeString]:
    """The registered panels of a tab, rendered, in order. A renderer returns HTML it escaped itself (a template)."""
    panels = sorted(_panels.get(tab, {}).values(), key=lambda panel: (panel.order, panel.key))
    return [mark_safe(panel.render(request, customer)) for panel in panels]
