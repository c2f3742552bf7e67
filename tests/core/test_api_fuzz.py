"""Schemathesis over the API's own OpenAPI schema (DESIGN.md: a 5xx is always a bug; Schemathesis runs in CI).

Every operation gets a bounded number of generated requests, valid and invalid, as an admin; then a state
machine follows the links Schemathesis infers between operations (create a customer, then read, change and delete
it, ...). A test fails on any 5xx, on a status code the schema does not document, and on a response whose body,
headers or content type the schema does not describe. Requests go straight into the WSGI application, inside the
test's database transaction: nothing is served on a port, nothing is downloaded.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from trunkline.core.models import User

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

# Bounded so that both test runs of .ci/run (SQLite, PostgreSQL) spend a few minutes here, not more; derandomized
# so a failure comes back on the next run. Shrinking is left out: the failure report carries the request anyway.
FUZZ_SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
STATEFUL_SETTINGS = settings(max_examples=40, stateful_step_count=10, deadline=None, derandomize=True,
                             database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))

# The test sends go to the SMTP server and SMS API in the settings, which the fuzzed PATCH /settings/ sets to any
# host it likes: a test must not reach out to the network. Their 4xx answers are tested in tests/notifications.
EXCLUDED_PATHS = r"^/api/v1/settings/test-(email|sms)/$"


@pytest.fixture
def admin_token(admin_user: User) -> str:
    return Token.objects.create(user=admin_user).key


@pytest.fixture(autouse=True)
def requests_inside_the_test_transaction(db) -> Iterator[None]:
    # Django closes "old" connections at the start and end of each request; inside the test's transaction that
    # would end the transaction. Django's own test client unhooks the same two receivers.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Schemathesis's coverage phase (the boundaries of every parameter) runs for the writes only: for GET it took
# 138 s on /customers/ alone, which has 40 filters. The boundaries it found in filters are tests of their own
# (tests/core/test_bad_input.py).
CONFIG = SchemathesisConfig.from_dict({
    "phases": {"examples": {"enabled": True}, "fuzzing": {"enabled": True}, "coverage": {"enabled": True}},
    "operations": [{"include-method": "GET", "phases": {"coverage": {"enabled": False}}}],
})

# The schema is public: loading it at collection needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=CONFIG).exclude(
    path_regex=EXCLUDED_PATHS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_as_documented(case: schemathesis.Case, admin_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)


def test_linked_operations_answer_as_documented(admin_token: str) -> None:
    headers = {"Authorization": f"Token {admin_token}"}
    failures: dict[tuple[str, str], str] = {}

    class APIWorkflows(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each scenario starts from the same (empty) database: Hypothesis replays scenarios, and one that met
            # another's leftovers would draw differently (FlakyStrategyDefinition).
            self.scenario = transaction.atomic()
            self.scenario.__enter__()

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            return {"headers": headers}

        def validate_response(self, response, case: schemathesis.Case, additional_checks=None, **kwargs) -> None:
            # Collected, not raised: a raise would make Hypothesis replay the scenario, and the report would show
            # one failure; this way the test names every distinct one with the request that caused it.
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    failures.setdefault((case.operation.label, failure.title), case.as_curl_command(headers=headers))
            except Failure as failure:
                failures.setdefault((case.operation.label, failure.title), case.as_curl_command(headers=headers))

    run_state_machine_as_test(APIWorkflows, settings=STATEFUL_SETTINGS)
    assert not failures, "\n".join(f"{label}: {title}\n    {curl}" for (label, title), curl in sorted(failures.items()))
