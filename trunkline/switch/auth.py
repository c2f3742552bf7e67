"""Who sent the call: SIP digest (RFC 2617) and the source-address table of IP authentication and whitelists."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

from trunkline.switch.types import Digest


def ha1(username: str, realm: str, password: str) -> str:
    """HA1 = MD5(username:realm:password), lowercase hex (RFC 2617). MD5 is the protocol's hash, not our choice."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def digest_response(stored_ha1: str, digest: Digest) -> str:
    """The response a client knowing the password sends (RFC 2617 §3.2.2.1, qop=auth or none)."""
    ha2 = hashlib.md5(f"{digest.method}:{digest.uri}".encode(), usedforsecurity=False).hexdigest()
    if digest.qop:
        text = f"{stored_ha1}:{digest.nonce}:{digest.nc}:{digest.cnonce}:{digest.qop}:{ha2}"
    else:
        text = f"{stored_ha1}:{digest.nonce}:{ha2}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class _Network(NamedTuple):
    version: int
    length: int


_Value = TypeVar("_Value")


class IpTable(Generic[_Value]):
    """Exact addresses in a dict, networks in a dict per (version, prefix length), most specific first."""

    __slots__ = ("_exact", "_networks")

    def __init__(self, entries: Iterable[tuple[str, _Value]]) -> None:
        exact: dict[str, list[_Value]] = {}
        networks: dict[_Network, dict[int, list[_Value]]] = {}
        for text, value in entries:
            network = ipaddress.ip_network(text, strict=False)
            if network.num_addresses == 1:
                exact.setdefault(str(network.network_address), []).append(value)
            else:
                key = _Network(network.version, network.prefixlen)
                networks.setdefault(key, {}).setdefault(int(network.network_address), []).append(value)
        self._exact = {address: tuple(values) for address, values in exact.items()}
        self._networks = tuple(
            (key, (1 << (32 if key.version == 4 else 128)) - (1 << ((32 if key.version == 4 else 128) - key.length)),
             {address: tuple(values) for address, values in table.items()})
            for key, table in sorted(networks.items(), key=lambda item: -item[0].length))

    def lookup(self, ip: str) -> tuple[_Value, ...]:
        """The values of the most specific entries holding `ip` (several when customers share it)."""
        found = self._exact.get(ip)
        if found is not None or not self._networks:
            return found or ()
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ()
        number, version = int(address), address.version
        for key, mask, table in self._networks:
            if key.version == version:
                found = table.get(number & mask)
                if found is not None:
                    return found
        return ()
