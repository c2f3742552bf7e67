"""Issue 8, finding 10: eight API clients writing for 30 seconds beside a busy worker (the routing snapshot
publication every change queues, run as `trunkline worker` runs it) get no 5xx on either database. On SQLite the
writers and the worker meet the real file lock (IMMEDIATE transactions, busy timeout)."""

import logging
import threading
import time
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.factories import CONTACT_PASSWORD, make_customer
from trunkline.core.context import change_context
from trunkline.core.jobs import run_worker
from trunkline.core.models import Job, User
from trunkline.routing.publish import PUBLISH_SNAPSHOT
from trunkline.routing.snapshot import SNAPSHOT_FILE

WRITERS = 8
SECONDS = 30


@pytest.mark.django_db(transaction=True)
def test_eight_writers_beside_a_busy_worker_get_no_server_error(caplog) -> None:
    with change_context(source="test"):
        operator = User.objects.create_user(username="loader", password=PASSWORD, role=User.Role.OPERATOR)
    # A routing world for the snapshot to carry: providers, cards, routes, 50 customers.
    call_command("demo", stdout=StringIO())
    own = [make_customer(name=f"Load Customer {index}").pk for index in range(WRITERS)]
    shared = make_customer(name="Shared Load Customer").pk
    token = Token.objects.create(user=operator).key
    statuses: list[Counter[int]] = [Counter() for _ in range(WRITERS)]
    crashed: list[BaseException] = []
    stop_worker = threading.Event()
    deadline = time.monotonic() + SECONDS

    def write(index: int) -> None:
        client = APIClient()
        client.raise_request_exception = False  # a server error is counted as the 500 a real client gets
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        turn = 0
        try:
            while time.monotonic() < deadline:
                turn += 1
                if turn % 3 == 0:  # every writer also edits one shared row: contention on the same record
                    response = client.patch(f"/api/v1/customers/{shared}/", {"cps": turn % 90 + 1}, format="json")
                elif turn % 3 == 1:
                    response = client.patch(f"/api/v1/customers/{own[index]}/", {"channels": turn % 200 + 1},
                                            format="json")
                else:
                    response = client.post("/api/v1/contacts/", {
                        "customer": own[index], "name": f"Load Contact {index}-{turn}",
                        "email": f"load{index}-{turn}@example.test", "password": CONTACT_PASSWORD}, format="json")
                statuses[index][response.status_code] += 1
        except BaseException as error:  # reported by the test, not lost in the thread
            crashed.append(error)
        finally:
            connection.close()

    def work() -> None:
        try:
            run_worker(stopping=stop_worker.is_set, idle=0.05)
        finally:
            connection.close()

    with caplog.at_level(logging.ERROR):
        worker = threading.Thread(target=work)
        writers = [threading.Thread(target=write, args=(index,)) for index in range(WRITERS)]
        worker.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        stop_worker.set()
        worker.join()

    assert crashed == []
    total = sum(statuses, Counter())
    assert {status for status in total if status >= 500} == set(), total
    assert set(total) <= {200, 201}, total  # every write went through: no 4xx from locks either
    assert total[200] >= 50 and total[201] >= 25, total
    assert [record.getMessage() for record in caplog.records] == []  # the worker met no error either
    publications = Counter(Job.objects.filter(kind=PUBLISH_SNAPSHOT).values_list("status", flat=True))
    assert publications["done"] >= 3 and publications["failed"] == 0, publications
    assert (Path(settings.VAR_DIR) / SNAPSHOT_FILE).is_file()
    print(f"\n{WRITERS} writers, {SECONDS} s: {dict(total)}; publications {dict(publications)}")
