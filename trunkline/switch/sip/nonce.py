"""Stateless digest nonces for the 407 challenge (RFC 2617 §3.2.1): any switch process holding the secret can check a
nonce another one issued, and nothing is stored per challenge.

nonce = base64url(timestamp (8 bytes, big-endian seconds) + HMAC-SHA256(secret, timestamp)[:16]), 32 characters.
A nonce is "ok" for `lifetime` seconds after it was issued, then "stale" (genuine but expired: the server challenges
again with stale=true and the client retries without asking its user); anything that is not ours is "bad".
Within its lifetime a nonce may be reused (no nonce-count tracking): the response still proves the password, and the
short lifetime bounds a replay of the same INVITE to routing it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal

_MAC_BYTES = 16  # 128 bits of HMAC-SHA256: forging one takes 2**128 tries
_NONCE_CHARS = 32  # base64 of 8 + 16 bytes, no padding
_FUTURE_SKEW = 30  # seconds: a nonce from another node whose clock runs ahead is still accepted

Verdict = Literal["ok", "stale", "bad"]


def _quote(text: str) -> str:
    # RFC 2617 quoted-string: backslash-escape '"' and '\'; control characters cannot appear in a header.
    text = "".join(char for char in text if char >= " " and char != "\x7f")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Nonces:
    """Issue and check nonces signed with `secret` (shared by every process that answers the same clients)."""

    __slots__ = ("_secret", "lifetime")

    def __init__(self, secret: bytes, lifetime: int = 300) -> None:
        if not secret:
            raise ValueError("Nonces need a non-empty secret")
        if lifetime < 1:
            raise ValueError("Nonces need a lifetime of at least 1 second")
        self._secret = secret
        self.lifetime = lifetime

    def _mac(self, stamp: bytes) -> bytes:
        return hmac.digest(self._secret, stamp, hashlib.sha256)[:_MAC_BYTES]

    def issue(self, now: float) -> str:
        """A nonce valid from `now` (epoch seconds) for `lifetime` seconds."""
        stamp = int(now).to_bytes(8, "big")
        return base64.urlsafe_b64encode(stamp + self._mac(stamp)).decode("ascii").rstrip("=")

    def check(self, nonce: str, now: float) -> Verdict:
        """"ok" (ours and fresh), "stale" (ours, expired) or "bad" (forged, garbled, not ours)."""
        if len(nonce) != _NONCE_CHARS or not nonce.isascii() or "+" in nonce or "/" in nonce:
            return "bad"  # only the URL-safe alphabet we issue: one nonce, one spelling
        try:
            raw = base64.b64decode(nonce.encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            return "bad"
        stamp, mac = raw[:8], raw[8:]
        if not hmac.compare_digest(mac, self._mac(stamp)):
            return "bad"
        issued = int.from_bytes(stamp, "big")
        if issued > now + _FUTURE_SKEW or now - issued > self.lifetime:
            return "stale"
        return "ok"

    def challenge_header(self, realm: str, now: float, *, stale: bool = False) -> str:
        """The Proxy-Authenticate value of a 407: MD5 with qop "auth", what trunkline.switch.auth checks."""
        header = f'Digest realm={_quote(realm)}, nonce="{self.issue(now)}", algorithm=MD5, qop="auth"'
        return header + ", stale=true" if stale else header
