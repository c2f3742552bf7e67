"""The customer card's tabs: each app registers its own from its AppConfig.ready(), and the card lists what the
registry holds for the operator's role. Core names no higher app: a tab is a URL name taking the customer's pk.

The order numbers follow the mission page (Main, Auth, Routing, Stats, Latest Calls, Dialogs, Payments, DID, CDR,
Packages, Invoices, Contracts), ten apart so a tab lands between two without renumbering; Audit Log stays last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from trunkline.core.models import User

ALL_ROLES: frozenset[str] = frozenset(User.Role.values)


class DuplicateTab(ValueError):
    pass


@dataclass(frozen=True)
class CardTab:
    key: str
    label: str
    url_name: str  # takes the customer's pk
    order: int
    roles: frozenset[str] = ALL_ROLES

    def url(self, customer_pk: int) -> str:
        return reverse(self.url_name, args=[customer_pk])


_registry: dict[str, CardTab] = {}


def register(key: str, label: str, url_name: str, order: int, roles: frozenset[str] | set[str] = ALL_ROLES) -> None:
    """Add a tab to every customer card. `roles` are the operator roles that see it (admin, operator, viewer)."""
    if key in _registry:
        raise DuplicateTab(f"A card tab with the key {key!r} is already registered "
                           f"({_registry[key].label!r}, {_registry[key].url_name}).")
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"Card tab {key!r}: unknown roles {sorted(unknown)}; use {sorted(ALL_ROLES)}.")
    _registry[key] = CardTab(key=key, label=label, url_name=url_name, order=order, roles=frozenset(roles))


def get(key: str) -> CardTab:
    return _registry[key]


def role_of(user: Any) -> str:
    """The role a tab is checked against: a superuser is an admin whatever its role field says."""
    return User.Role.ADMIN if user.is_admin else user.role


def may_see(key: str, user: Any) -> bool:
    return role_of(user) in _registry[key].roles


def tabs_for(user: Any) -> list[CardTab]:
    """The tabs this operator sees, in card order."""
    role = role_of(user)
    return sorted((tab for tab in _registry.values() if role in tab.roles), key=lambda tab: (tab.order, tab.key))
