"""Imports at scale: bounded memory, the upload limit (413), unreadable CSV as 400 by row, large files in the worker.

Issue 8, finding 7 (a 5 MB customer CSV took 150 s and 3 GB), the CSV cases of finding 8 and the panel's
ErrorDetail reprs of finding 11.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.exceptions import ErrorDetail

from tests.routing.helpers import make_card
from trunkline.audit.models import ObjectChange
from trunkline.core import bulk_import
from trunkline.core.jobs import run_ready_jobs
from trunkline.core.models import Job
from trunkline.core.uploads import too_large_message
from trunkline.customers.models import Contact, Customer
from trunkline.routing.models import Rate, RateRevision

URL = "/api/v1/customers/import/"
UI_URL = "/customers/import/"
HEADER = "name,currency,status,channels\n"
LONG_CELL = "A cell is longer than 131,072 characters; the rest of the file was not read (is a quote left open?)."
PROBE = Path(__file__).with_name("import_memory_probe.py")


def rows(count: int, start: int = 0, prefix: str = "Carrier") -> str:
    return "".join(f"{prefix} {number:06d},USD,active,{number % 50}\n" for number in range(start, start + count))


def counts() -> tuple[int, int]:
    return Customer.objects.count(), ObjectChange.objects.count()


def send(api, text: str, query: str = ""):
    return api.post(URL + query, text.encode(), content_type="text/csv")


@pytest.fixture
def small_limit(settings):
    settings.TRUNKLINE_UPLOAD_LIMIT = 1000


@pytest.fixture
def background_from_5_lines(monkeypatch):
    """The worker takes files from 5 lines on instead of 20,000, so a test file stays small."""
    for module in ("trunkline.core.api.viewsets", "trunkline.core.views.generic"):
        monkeypatch.setattr(f"{module}.BACKGROUND_IMPORT_ROWS", 5)


# The upload limit


def test_the_default_limit_is_50_mb_and_named_in_the_message():
    assert too_large_message() == "The upload is larger than the limit of 50 MB."


def test_a_csv_body_over_the_limit_answers_413_and_writes_nothing(api, small_limit):
    before = counts()
    text = HEADER + rows(40)
    assert len(text) > 1000

    response = send(api, text)

    assert response.status_code == 413
    assert response.json() == {"detail": "The upload is larger than the limit of 1,000 bytes.",
                               "errors": {"file": ["The upload is larger than the limit of 1,000 bytes."]}}
    assert counts() == before


def test_a_body_at_the_limit_is_read(api, settings):
    text = HEADER + rows(3)
    settings.TRUNKLINE_UPLOAD_LIMIT = len(text)

    response = send(api, text)

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3


def test_a_multipart_file_over_the_limit_answers_413(api, small_limit):
    upload = SimpleUploadedFile("customers.csv", (HEADER + rows(40)).encode(), content_type="text/csv")
    before = counts()

    response = api.post(URL, {"file": upload}, format="multipart")

    assert response.status_code == 413
    assert response.json()["errors"] == {"file": ["The upload is larger than the limit of 1,000 bytes."]}
    assert counts() == before


def test_csv_text_in_a_json_body_over_the_limit_answers_413(api, small_limit):
    response = api.post(URL, {"csv": HEADER + rows(40)}, format="json")

    assert response.status_code == 413
    assert response.json()["detail"] == "The upload is larger than the limit of 1,000 bytes."
    assert Customer.objects.count() == 0


def test_a_request_declaring_a_body_over_the_limit_is_refused_before_it_is_read(api, small_limit):
    response = api.post(URL, b"name,currency\n", content_type="text/csv", CONTENT_LENGTH="999999999")

    assert response.status_code == 413
    assert response.json()["errors"] == {"file": ["The upload is larger than the limit of 1,000 bytes."]}


@pytest.mark.parametrize("length", ["\u00b2", "1e9"])
def test_a_malformed_content_length_is_no_server_error(api, web, setup_context, length):
    """The limit check reads Content-Length before the body; a length that is not plain ASCII digits is left to
    the body reader (Django reads none of it), never an int() that raises."""
    card = make_card()
    answers = [
        api.post(URL, b"name,currency\nAcme,USD\n", content_type="text/csv", CONTENT_LENGTH=length).status_code,
        web.post(reverse("customers:customer_import"), {"csv": "name,currency\nAcme,USD\n"},
                 CONTENT_LENGTH=length).status_code,
        web.post(reverse("routing:ratecard_import", args=[card.pk]), {}, CONTENT_LENGTH=length).status_code,
    ]

    assert answers == [400, 200, 200]
    assert Customer.objects.count() == 0


def test_a_rate_deck_over_the_limit_answers_413(api, small_limit):
    card = make_card(name="Retail")
    deck = "".join(f"44{number:04d},UK,0.012000,0.000000,1,1,0,active\n" for number in range(40))

    response = api.post(reverse("api:ratecard-import-rates", args=[card.pk]), deck.encode(), content_type="text/csv")

    assert response.status_code == 413
    assert response.json() == {"detail": "The upload is larger than the limit of 1,000 bytes.",
                               "errors": {"file": ["The upload is larger than the limit of 1,000 bytes."]}}
    assert not RateRevision.objects.exists()


def test_the_panel_says_a_file_over_the_limit_is_too_large(web, small_limit):
    upload = SimpleUploadedFile("customers.csv", (HEADER + rows(40)).encode(), content_type="text/csv")

    response = web.post(UI_URL, {"file": upload, "_confirm": ""})

    assert response.status_code == 200
    assert ('<p class="errorlist-block" data-testid="file-error">The upload is larger than the limit of 1,000 '
            'bytes.</p>') in response.content.decode()
    assert Customer.objects.count() == 0


def test_the_panel_refuses_pasted_text_over_the_limit(web, settings):
    settings.TRUNKLINE_UPLOAD_LIMIT = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # as config/settings.py ties them

    response = web.post(UI_URL, {"csv": HEADER + rows(40), "_confirm": ""})

    assert response.status_code == 200
    assert "The upload is larger than the limit of 1,000 bytes." in response.content.decode()
    assert Customer.objects.count() == 0


def test_the_rate_panel_says_a_file_over_the_limit_is_too_large(web, small_limit):
    card = make_card(name="Retail")
    deck = "".join(f"44{number:04d},UK,0.012000,0.000000,1,1,0,active\n" for number in range(40))
    upload = SimpleUploadedFile("deck.csv", deck.encode(), content_type="text/csv")

    response = web.post(reverse("routing:ratecard_import", args=[card.pk]),
                        {"file": upload, "start_row": "1", "columns": "prefix,name,rate,connection_fee,mcd,pulse,"
                                                                      "grace,status", "_import": "1"})

    assert response.status_code == 200
    assert "The upload is larger than the limit of 1,000 bytes." in response.content.decode()
    assert not RateRevision.objects.exists()


# Unreadable CSV: 400 naming the row, never 500


def test_a_cell_over_the_csv_field_limit_is_a_row_error(api):
    before = counts()
    text = HEADER + rows(2) + f'Huge,USD,active,"{"x" * (128 * 1024 + 1)}"\n' + rows(1, start=9)

    response = send(api, text)

    assert response.status_code == 400
    assert response.json() == {"detail": "1 row with errors; nothing was imported.",
                               "errors": {"row 4": {"row": [LONG_CELL]}}}
    assert counts() == before


def test_a_cell_over_the_csv_field_limit_in_a_rate_deck_is_a_row_error(api):
    card = make_card(name="Retail")
    deck = f'44,UK,0.012000,0.000000,1,1,0,active\n45,"{"x" * (128 * 1024 + 1)}",0.01,0,1,1,0,active\n'

    response = api.post(reverse("api:ratecard-import-rates", args=[card.pk]) + "?start_row=1", deck.encode(),
                        content_type="text/csv")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"row": [
        "Unreadable CSV: field larger than field limit (131072)."]}}
    assert not RateRevision.objects.exists()


def test_cr_only_line_ends_read_as_rows(api):
    """Old spreadsheets end lines with CR alone: each is a row, numbered as the spreadsheet shows it."""
    response = send(api, "name,currency,channels\rAcme,USD,5\rBeta,EUR,x\r")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 3": {"channels": ["A valid integer is required."]}}

    response = send(api, "name,currency,channels\rAcme,USD,5\rBeta,EUR,7\r")

    assert response.status_code == 200, response.content
    assert sorted(Customer.objects.values_list("name", "channels")) == [("Acme", 5), ("Beta", 7)]


def test_cr_only_line_ends_in_a_rate_deck_read_as_rows(api):
    card = make_card(name="Retail")

    response = api.post(reverse("api:ratecard-import-rates", args=[card.pk]),
                        b"prefix,name,rate\r44,UK,0.012\r447,UK Mobile,0.045\r", content_type="text/csv",
                        QUERY_STRING="columns=prefix,name,rate")

    assert response.status_code == 200, response.content
    assert sorted(Rate.objects.values_list("prefix", flat=True)) == ["44", "447"]


def test_an_id_past_the_database_integers_is_an_unknown_id(api):
    response = send(api, "id,channels\n99999999999999999999,5\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"id": ["No customer with id 99999999999999999999."]}}


# All or nothing, errors capped


def test_a_bad_row_at_the_end_of_a_large_file_writes_nothing(api):
    before = counts()

    response = send(api, HEADER + rows(3000) + "Last Carrier,XYZ,active,1\n")

    assert response.status_code == 400
    assert response.json() == {"detail": "1 row with errors; nothing was imported.",
                               "errors": {"row 3002": {"currency": [
                                   "'XYZ' is not an ISO 4217 currency code (such as USD, EUR, GBP)."]}}}
    assert counts() == before


def test_errors_are_listed_for_the_first_100_rows_and_counted_for_all(api):
    before = counts()

    response = send(api, HEADER + "".join(f"Bad {number},XYZ,active,1\n" for number in range(150)))

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "150 rows with errors (the first 100 are listed); nothing was imported."
    assert list(body["errors"]) == [f"row {number}" for number in range(2, 102)]
    assert counts() == before


def test_a_name_taken_in_the_database_is_refused_once_per_row(api, setup_context):
    Customer.objects.create(name="Carrier 000001", currency="USD")
    before = counts()

    response = send(api, HEADER + rows(3))

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 3": {"name": ["customer with this customer name already exists."]}}
    assert counts() == before


def test_update_rows_are_written_and_logged(api, setup_context):
    first = Customer.objects.create(name="First", currency="USD", channels=1)
    second = Customer.objects.create(name="Second", currency="USD", channels=2)

    response = send(api, f"id,channels\n{second.pk},20\n{first.pk},10\n")

    assert response.status_code == 200, response.content
    assert response.json()["updated"] == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.channels, second.channels) == (10, 20)
    assert ObjectChange.objects.filter(action="update", object_type__model="customer").count() == 2


def test_panel_errors_are_plain_messages():
    detail = {"tags": {0: [ErrorDetail("Not a valid string.", code="invalid")]}, "name": [ErrorDetail("Bad.")]}

    assert list(bulk_import._messages(detail)) == ["Item 1: Not a valid string.", "Bad."]


def test_the_rate_panel_names_a_file_that_is_not_utf8_in_words(web):
    card = make_card(name="Retail")
    upload = SimpleUploadedFile("deck.csv", "44,Côte,0.01\n".encode("latin-1"), content_type="text/csv")

    response = web.post(reverse("routing:ratecard_import", args=[card.pk]),
                        {"file": upload, "start_row": "1", "columns": "prefix,name,rate", "_import": "1"})

    html = response.content.decode()
    assert "The file is not UTF-8 text; save it as CSV (UTF-8)." in html
    assert "ErrorDetail" not in html


# Large files: the worker


def test_a_large_file_is_imported_by_the_worker_with_progress_api(api, operator_user, background_from_5_lines):
    response = send(api, HEADER + rows(6))

    assert response.status_code == 202
    job = Job.objects.get(kind=bulk_import.IMPORT_JOB)
    url = f"http://testserver/api/v1/customers/import/{job.pk}/"
    assert response.json() == {"detail": "The file has 7 lines: the worker imports it. GET the url for its progress "
                                         "and outcome.", "dry_run": False, "job": job.pk, "url": url}
    assert response["Location"] == url
    assert Customer.objects.count() == 0  # nothing until the worker runs
    status = api.get(url).json()
    assert (status["status"], status["rows"], status["progress_done"], status["result"]) == ("queued", 6, 0, None)
    stored = Path(job.payload["file"])
    assert stored.exists() and oct(stored.stat().st_mode & 0o777) == "0o600"

    assert run_ready_jobs() == 1

    status = api.get(url).json()
    assert (status["status"], status["progress_done"], status["progress_total"]) == ("done", 12, 12)
    assert status["result"] == {"detail": "Imported 6 rows: 6 new, 0 updated.", "dry_run": False, "written": True,
                                "rows": 6, "created": 6, "updated": 0, "error_rows": 0, "errors": {}}
    assert Customer.objects.count() == 6
    # The worker carried it out; the operator made the change.
    changes = ObjectChange.objects.filter(object_type__model="customer")
    assert set(changes.values_list("action", "source", "user")) == {("create", "job", operator_user.pk)}
    assert not stored.exists()
    assert run_ready_jobs() == 0


def test_a_bad_row_in_a_worker_import_writes_nothing(api, background_from_5_lines):
    before = counts()
    response = send(api, HEADER + rows(6) + "Bad,XYZ,active,1\n")
    run_ready_jobs()

    status = api.get(response.json()["url"]).json()
    assert status["status"] == "done"
    assert status["result"]["detail"] == "1 row with errors; nothing was imported."
    assert status["result"]["errors"] == {"row 8": {"currency": [
        "'XYZ' is not an ISO 4217 currency code (such as USD, EUR, GBP)."]}}
    assert (status["progress_done"], status["progress_total"]) == (7, 7)  # checked only: nothing to write
    assert counts() == before


def test_the_status_of_another_resources_import_is_not_found(api, background_from_5_lines):
    job_id = send(api, HEADER + rows(6)).json()["job"]

    assert api.get(f"/api/v1/providers/import/{job_id}/").status_code == 404
    assert api.get("/api/v1/customers/import/99999999999999999999/").status_code == 404


def test_a_viewer_cannot_follow_an_import(api, api_for, viewer_user, background_from_5_lines):
    url = send(api, HEADER + rows(6)).json()["url"]

    assert api_for(viewer_user).get(url).status_code == 403


def test_a_large_file_is_imported_by_the_worker_with_progress_panel(web, background_from_5_lines):
    upload = SimpleUploadedFile("customers.csv", (HEADER + rows(6)).encode(), content_type="text/csv")

    response = web.post(UI_URL, {"file": upload, "_confirm": ""})

    job = Job.objects.get(kind=bulk_import.IMPORT_JOB)
    page_url = f"/customers/import/{job.pk}/"
    assert response.status_code == 302 and response["Location"] == page_url
    body = web.get(page_url).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in body and "Queued for the background worker" in body
    assert "<h2>Waiting for the worker…</h2>" in body and 'aria-valuemax="12" aria-valuenow="0"' in body
    Job.objects.filter(pk=job.pk).update(progress_done=6, status="running")
    body = web.get(page_url).content.decode()
    assert "<h2>Reading the rows…</h2>" in body and "6 of 6 rows read and checked, 0 written" in body

    Job.objects.filter(pk=job.pk).update(progress_done=0, status="queued")
    assert run_ready_jobs() == 1

    body = web.get(page_url).content.decode()
    assert "refresh" not in body and 'aria-valuenow="12"' in body
    assert "Imported 6 rows: 6 new, 0 updated." in body and "6 of 6 rows read and checked, 6 written" in body
    assert Customer.objects.count() == 6


def test_a_large_preview_is_checked_by_the_worker_and_writes_nothing(web, background_from_5_lines):
    response = web.post(UI_URL, {"csv": HEADER + rows(5) + "Bad,USD,active,x\n"})
    run_ready_jobs()

    body = web.get(response["Location"]).content.decode()
    assert "<h2>Finished: nothing was imported</h2>" in body
    assert "<tr><td>Row 7</td><td class=\"mono\">channels</td><td>A valid integer is required.</td></tr>" in body
    assert Customer.objects.count() == 0


# Bounded memory


@pytest.mark.django_db(transaction=True)
def test_a_large_import_keeps_memory_bounded(tmp_path):
    """The 200,000-row file of the issue's acceptance, imported in a child process (its peak resident memory is its
    own) after a 1,000-row one warms Django up, stays under 300 MB. The old import kept every row's serializer and
    instance (55k rows, 3 GB). On SQLite the peak includes the database pages read through mmap (settings), which
    grow with the file, so the bound is on the whole process, not on the growth. bench/customer_import.py times
    the same file."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        url = (f"postgresql://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/"
               f"{database['NAME']}")
    warm, large = tmp_path / "warm.csv", tmp_path / "large.csv"
    warm.write_text(HEADER + rows(1000, prefix="Warm"))
    large.write_text(HEADER + rows(200_000, prefix="Large"))
    environment = {**os.environ, "DATABASE_URL": url, "TRUNKLINE_VAR_DIR": str(tmp_path)}

    child = subprocess.run([sys.executable, str(PROBE), str(warm), str(large)], env=environment,
                           capture_output=True, text=True, timeout=1200, check=False)

    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["summaries"] == ["Imported 1,000 rows: 1,000 new, 0 updated.",
                                   "Imported 200,000 rows: 200,000 new, 0 updated."]
    assert report["peak_mb"] < 300, report
    assert Customer.objects.count() == 201_000


def test_a_service_refusing_a_row_at_write_time_is_a_row_error(api, setup_context, monkeypatch):
    """The validators cannot see everything (a concurrent writer taking an email): a refusal from the service
    while writing is reported by row, and the rows written before it are rolled back."""
    customer = Customer.objects.create(name="Acme", currency="USD")
    writes = []

    def contact_save(*, contact, password, auto_generate_password):
        if writes:
            raise DjangoValidationError({"email": ["Another contact already has this email."]})
        writes.append(contact.email)
        contact.set_password(password)
        contact.save()
        return contact

    monkeypatch.setattr("trunkline.customers.api.serializers.contact_save", contact_save)
    before = counts()
    csv = (f"customer,name,email,password\n{customer.pk},Erin,erin@acme.example,Correct-Horse-Battery-7\n"
           f"{customer.pk},Frank,frank@acme.example,Correct-Horse-Battery-8\n")

    response = api.post("/api/v1/contacts/import/", csv, content_type="text/csv")

    assert response.status_code == 400
    assert response.json() == {"detail": "1 row with errors; nothing was imported.",
                               "errors": {"row 3": {"email": ["Another contact already has this email."]}}}
    assert writes == ["erin@acme.example"] and not Contact.objects.exists()
    assert counts() == before


def test_one_transaction_queues_its_follow_up_job_once(db, setup_context, django_capture_on_commit_callbacks):
    """200,000 imported rows once left 200,000 commit callbacks (each a query) for one snapshot publication."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        for number in range(3):
            Customer.objects.create(name=f"Carrier {number}", currency="USD")

    assert len(callbacks) == 1


def test_a_rolled_back_savepoint_does_not_take_the_follow_up_job_with_it(db, setup_context,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            Customer.objects.create(name="Undone", currency="USD")
            raise RuntimeError
        Customer.objects.create(name="Kept", currency="USD")
        Customer.objects.create(name="Kept too", currency="USD")

    assert len(callbacks) == 1
    callbacks[0]()
    assert Job.objects.filter(kind="routing.publish_snapshot", status="queued").count() == 1
