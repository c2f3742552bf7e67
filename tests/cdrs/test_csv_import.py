"""CSV import of CDRs (services.csv_import, POST /api/v1/cdrs/import/ and the card's form): a column mapping and a
start row, rated and charged through cdrs_ingest, duplicates changing nothing, errors by row naming the column
with nothing written, the upload limit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from types import SimpleNamespace

import pytest

from tests.cdrs.recalc_helpers import iso, make_world
from tests.routing.helpers import SIMULATE_IP
from trunkline.cdrs.models import Cdr, Rollup
from trunkline.cdrs.services.csv_import import MappingError, cdrs_import_csv, parse_columns
from trunkline.customers.models import Customer
from trunkline.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db

URL = "/api/v1/cdrs/import/"


@pytest.fixture
def world() -> SimpleNamespace:
    return make_world()


def rows(world, *lines: tuple[str, int | None, str]) -> str:
    """A file in another system's layout: a title line, a header, then dst, talk seconds (None: not answered) and
    call id per row; the columns are mapped by position."""
    text = "Export of CDRs\nCall,Customer,Auth IP,From,To,Begin,Answered,Ended,Code,Reason,Carrier,Notes\n"
    for dst, talk, call_id in lines:
        start = world.t0
        answer = start + timedelta(seconds=4)
        end = iso(answer + timedelta(seconds=talk)) if talk is not None else iso(start + timedelta(seconds=3))
        answer = iso(answer) if talk is not None else ""
        code, reason = ("200", "Downstream BYE") if talk is not None else ("486", "")
        text += (f"{call_id},{world.customer.pk},{SIMULATE_IP},441234567890,{dst},{iso(start)},{answer},{end},"
                 f"{code},{reason},{world.provider},ignored\n")
    return text


MAPPING = "call_id,customer,ip,cli,dst,start,answer,end,sip_code,release_reason,provider,-"


def balance(world) -> Decimal:
    return Customer.objects.get(pk=world.customer.pk).balance


def upload(text: str) -> BytesIO:
    file = BytesIO(text.encode())
    file.name = "cdrs.csv"
    return file


def test_mapped_rows_are_rated_charged_and_counted_and_a_second_import_changes_nothing(world, api) -> None:
    text = rows(world, ("447911123456", 60, "a-1"), ("447911123457", None, "a-2"))
    response = api.post(URL, {"file": upload(text), "columns": MAPPING, "start_row": 3}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json() == {"detail": "Imported 2 rows: 2 new CDRs, 0 already there.", "rows": 2, "new": 2,
                               "duplicates": 0}
    assert list(Cdr.objects.order_by("call_id").values_list("call_id", "source", "duration", "customer_charge",
                                                            "ledger_total", "release_reason")) == [
        ("a-1", "csv", 60, Decimal("0.006"), Decimal("0.0066"), "Downstream BYE"),
        ("a-2", "csv", 0, Decimal("0"), Decimal("0"), "")]
    assert balance(world) == Decimal("4.9934")
    again = api.post(URL, {"file": upload(text), "columns": MAPPING, "start_row": 3}, format="multipart")
    assert again.json() == {"detail": "Imported 2 rows: 0 new CDRs, 2 already there.", "rows": 2, "new": 0,
                            "duplicates": 2}
    assert (Cdr.objects.count(), LedgerEntry.objects.filter(kind="charge").count(), balance(world)) == (
        2, 1, Decimal("4.9934"))
    assert Rollup.objects.get().attempts == 2


def test_any_bad_row_is_named_by_row_and_column_and_nothing_is_written(world, api) -> None:
    text = rows(world, ("447911123456", 60, "b-1"), ("44791112345X", 60, "b-2"), ("447911123458", 60, "b-3"))
    text = text.replace(f",{world.provider},ignored\n", ",seven,ignored\n", 1)  # row 3's provider
    text += f"b-4,{world.customer.pk},{SIMULATE_IP},1,447,yesterday,,,200,,,x\n"
    text += "b-5,1\n"
    response = api.post(URL, {"file": upload(text), "columns": MAPPING, "start_row": 3}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"detail": "4 rows with errors; nothing was imported.", "errors": {
        "row 3": {"provider": ["'seven' is not a whole number."]},
        "row 4": {"dst": ["dst must be 1 to 128 digits."]},
        "row 6": {"start": ["start must be an ISO 8601 time with a timezone, e.g. 2026-12-01T10:00:00Z."],
                  "end": ["end is required."]},
        "row 7": {"row": ["The row has 2 cells; the column mapping reads 11."]}}}
    assert (Cdr.objects.count(), LedgerEntry.objects.filter(kind="charge").count(), Rollup.objects.count(),
            balance(world)) == (0, 0, 0, Decimal("5.00"))


def test_an_error_found_by_ingest_rolls_back_what_earlier_chunks_wrote(world, monkeypatch) -> None:
    from trunkline.cdrs.services import csv_import

    monkeypatch.setattr(csv_import, "CHUNK_ROWS", 1)
    text = rows(world, ("447911123456", 60, "c-1"), ("447911123457", 60, "c-2"), ("4479111X", 60, "c-3"))
    result = cdrs_import_csv(source=text, columns=MAPPING, start_row=3)
    assert (result.summary, result.errors, result.written) == (
        "1 row with errors; nothing was imported.", {"row 5": {"dst": ["dst must be 1 to 128 digits."]}}, False)
    assert (Cdr.objects.count(), LedgerEntry.objects.filter(kind="charge").count(), balance(world)) == (
        0, 0, Decimal("5.00"))


def test_mapping_errors() -> None:
    assert parse_columns(None)[:3] == ("call_id", "leg", "customer")
    with pytest.raises(MappingError) as error:
        parse_columns("call_id,call_id,dst,wat")
    assert str(error.value) == (
        "Unknown column 'wat'; columns are call_id, leg, customer, ip, sip_user, cli, dst, start, answer, end, "
        "sip_code, sip_reason, release_reason, provider, route, tech_prefix, pdd_ms, ring_ms, node (or '-' to skip "
        "a column). Column 'call_id' is mapped more than once. The mapping needs a 'customer' and a 'start' and a "
        "'end' and a 'sip_code' column. The mapping needs an ip or a sip_user column (how the customer was "
        "identified).")


def test_api_refusals(world, api, api_for, viewer_user, settings) -> None:
    text = rows(world, ("447911123456", 60, "d-1"))
    bad_mapping = api.post(URL, {"file": upload(text), "columns": "call_id,dst"}, format="multipart")
    assert bad_mapping.status_code == 400
    assert list(bad_mapping.json()["errors"]) == ["columns"]
    not_utf8 = api.post(URL, {"file": BytesIO(b"\xff\xfe,1\n")}, format="multipart")
    assert not_utf8.json()["errors"] == {"file": ["The file is not UTF-8 text; save it as CSV (UTF-8)."]}
    settings.TRUNKLINE_UPLOAD_LIMIT = 100
    too_big = api.post(URL, {"file": upload(text), "columns": MAPPING, "start_row": 3}, format="multipart")
    assert too_big.status_code == 413
    assert too_big.json()["detail"] == "The upload is larger than the limit of 100 bytes."
    viewer = api_for(viewer_user).post(URL, {"file": upload(text), "columns": MAPPING}, format="multipart")
    assert viewer.status_code == 403
    assert Cdr.objects.count() == 0


def test_panel_form_imports_and_lists_errors(world, web) -> None:
    url = f"/customers/{world.customer.pk}/cdrs/import/"
    assert web.get(url).status_code == 200
    bad = rows(world, ("44791112345X", 60, "e-1"))
    page = web.post(url, {"file": upload(bad), "columns": MAPPING, "start_row": "3"})
    assert page.status_code == 200
    assert "1 row with errors; nothing was imported." in page.content.decode()
    assert "dst must be 1 to 128 digits." in page.content.decode()
    good = rows(world, ("447911123456", 60, "e-2"))
    done = web.post(url, {"file": upload(good), "columns": MAPPING, "start_row": "3"})
    assert done.status_code == 302 and done["Location"] == f"/customers/{world.customer.pk}/cdrs/"
    assert list(Cdr.objects.values_list("call_id", flat=True)) == ["e-2"]
