from collections.abc import Iterator
from datetime import timedelta

import pytest

from trunkline.core import jobs
from trunkline.ledger.services import PUBLISH_BALANCES


@pytest.fixture
def publish_handler() -> Iterator[None]:
    """The balances publication's debounced kind, registered as cdrs registers it (a no-op here) when it is not yet,
    and put back as it was after the test."""
    handler = jobs._handlers.get(PUBLISH_BALANCES)
    if handler is None:
        jobs.job_handler(PUBLISH_BALANCES, debounce=timedelta(seconds=1))(lambda job: None)
    yield
    if handler is None:
        jobs._handlers.pop(PUBLISH_BALANCES, None)
        jobs._debounce.pop(PUBLISH_BALANCES, None)
