"""SIP digest credentials (RFC 2617/7616, MD5): the one place the realm and HA1 are defined.

The switch challenges with this realm and checks a response against the stored HA1, so it never needs the
password. The realm is part of every HA1: changing SIP_REALM invalidates every stored SIP password.
"""

from trunkline.switch.auth import ha1

SIP_REALM = "trunkline"


def digest_ha1(username: str, password: str, realm: str = SIP_REALM) -> str:
    """HA1 = MD5(username:realm:password), lowercase hex: the switch's own function, so both always agree."""
    return ha1(username, realm, password)
