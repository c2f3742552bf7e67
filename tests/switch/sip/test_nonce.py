"""trunkline.switch.sip.nonce: stateless nonces are ok while fresh, stale when expired, bad when not ours."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from trunkline.switch.auth import digest_response, ha1
from trunkline.switch.sip.message import parse_digest
from trunkline.switch.sip.nonce import Nonces

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = 1_790_000_000.75


def test_issue_is_the_documented_layout() -> None:
    nonce = Nonces(SECRET).issue(NOW)
    stamp = int(NOW).to_bytes(8, "big")
    mac = hmac.new(SECRET, stamp, hashlib.sha256).digest()[:16]
    assert nonce == base64.urlsafe_b64encode(stamp + mac).decode()
    assert len(nonce) == 32
    assert "=" not in nonce


def test_fresh_then_stale() -> None:
    nonces = Nonces(SECRET, lifetime=300)
    nonce = nonces.issue(NOW)
    assert nonces.check(nonce, NOW) == "ok"
    assert nonces.check(nonce, int(NOW) + 300) == "ok"
    assert nonces.check(nonce, int(NOW) + 301) == "stale"
    assert nonces.check(nonce, NOW - 30) == "ok"  # another node's clock a little behind
    assert nonces.check(nonce, NOW - 31.5) == "stale"


def test_another_process_with_the_secret_accepts_it() -> None:
    assert Nonces(SECRET).check(Nonces(SECRET).issue(NOW), NOW + 1) == "ok"


@pytest.mark.parametrize("mangle", [
    lambda nonce: "",
    lambda nonce: nonce[:-1],
    lambda nonce: nonce + "A",
    lambda nonce: nonce[:-1] + ("A" if nonce[-1] != "A" else "B"),  # MAC changed
    lambda nonce: ("B" if nonce[0] != "B" else "C") + nonce[1:],  # timestamp changed
    lambda nonce: nonce[:5] + "!" + nonce[6:],
    lambda nonce: nonce[:5] + "é" + nonce[6:],
    lambda nonce: nonce.replace("-", "+").replace("_", "/") if ("-" in nonce or "_" in nonce) else "+" + nonce[1:],
    lambda nonce: nonce[:8] + "====" + nonce[12:],
])
def test_forged_or_garbled_is_bad(mangle: object) -> None:
    nonces = Nonces(SECRET)
    nonce = nonces.issue(NOW)
    assert callable(mangle)
    assert nonces.check(mangle(nonce), NOW) == "bad"


def test_other_secret_is_bad_even_when_expired() -> None:
    assert Nonces(b"another secret").check(Nonces(SECRET).issue(NOW), NOW + 10_000) == "bad"


def test_challenge_header() -> None:
    nonces = Nonces(SECRET)
    nonce = nonces.issue(NOW)
    assert nonces.challenge_header("trunkline", NOW) == (
        f'Digest realm="trunkline", nonce="{nonce}", algorithm=MD5, qop="auth"')
    assert nonces.challenge_header("trunkline", NOW, stale=True) == (
        f'Digest realm="trunkline", nonce="{nonce}", algorithm=MD5, qop="auth", stale=true')
    assert nonces.challenge_header('a "b"\\\r\n', NOW).startswith('Digest realm="a \\"b\\"\\\\", nonce=')


def test_challenge_answered_by_a_client_verifies() -> None:
    # A client answering the challenge as RFC 2617 says (qop=auth), parsed back, checks against the stored HA1.
    nonces = Nonces(SECRET)
    nonce = nonces.issue(NOW)
    stored = ha1("carrier7", "trunkline", "s3cret")
    uri = "sip:15551234567@127.0.0.1:5060"
    ha2 = hashlib.md5(f"INVITE:{uri}".encode()).hexdigest()
    response = hashlib.md5(f"{stored}:{nonce}:00000001:c1:auth:{ha2}".encode()).hexdigest()
    credentials = parse_digest(f'Digest username="carrier7", realm="trunkline", nonce="{nonce}", uri="{uri}", '
                               f'response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1"')
    assert credentials is not None
    assert nonces.check(credentials.digest.nonce, NOW + 5) == "ok"
    assert digest_response(stored, credentials.digest) == response


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty secret"):
        Nonces(b"")
    with pytest.raises(ValueError, match="lifetime"):
        Nonces(SECRET, lifetime=0)
