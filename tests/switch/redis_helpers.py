"""Redis for the switch's tests: a reachable server or a skip, unless CI requires it (TRUNKLINE_REQUIRE_SIP=1).

TRUNKLINE_TEST_REDIS_URL names the server and database (default db 12 of a local server); each test keys its data
under a prefix of its own and deletes it, so tests running at once never see each other's counters.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

DEFAULT_URL = "redis://127.0.0.1:6379/12"


def redis_url_or_skip() -> str:
    url = os.environ.get("TRUNKLINE_TEST_REDIS_URL", DEFAULT_URL)
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            pass
    except OSError as error:
        if os.environ.get("TRUNKLINE_REQUIRE_SIP") == "1":
            pytest.fail(f"Redis at {url} is unreachable ({error}) and TRUNKLINE_REQUIRE_SIP=1")
        pytest.skip(f"Redis at {url} is unreachable: {error}")
    return url


def unique_prefix() -> str:
    return f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
