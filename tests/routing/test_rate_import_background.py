"""A large deck imported from the control panel runs in the worker: a page shows its progress and then the
outcome; the revision is logged under the operator who uploaded it; a bad deck writes nothing."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.routing.helpers import HEADER, make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.jobs import run_ready_jobs
from trunkline.core.models import User
from trunkline.routing.models import Rate, RateImport, RateRevision
from trunkline.routing.services.ratecards import rate_card_import
from trunkline.routing.views import ratecards as ratecard_views

pytestmark = pytest.mark.django_db
COLUMNS = "prefix,name,rate,connection_fee,mcd,pulse,grace,status"


@pytest.fixture(autouse=True)
def small_background_threshold(monkeypatch) -> None:
    monkeypatch.setattr(ratecard_views, "BACKGROUND_IMPORT_ROWS", 3)


def deck(count: int) -> str:
    return HEADER + "".join(f"{440 + number},Row {number},0.0{number % 9 + 1},0,1,1,0,active\n"
                            for number in range(count))


def post(client: Client, card: Any, csv: str, **options: str) -> Any:
    return client.post(reverse("routing:ratecard_import", args=[card.pk]),
                       {"csv": csv, "start_row": "2", "columns": COLUMNS, "_import": "1", **options})


def status_page(client: Client, imported: RateImport) -> str:
    return client.get(reverse("routing:rate_import", args=[imported.pk])).content.decode()


def test_a_large_deck_is_imported_by_the_worker_with_progress(web: Client, operator_user: User) -> None:
    with change_context(source="test"):
        card = make_card(name="Retail")
    response = post(web, card, deck(5))
    imported = RateImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/routing/imports/{imported.pk}/"
    assert (imported.rows, imported.job.progress_total, imported.created_by) == (5, 10, operator_user)
    assert not RateRevision.objects.filter(card=card).exists()  # nothing until the worker runs
    body = status_page(web, imported)
    assert '<meta http-equiv="refresh" content="2">' in body and "Queued for the background worker" in body
    assert "<h2>Waiting for the worker…</h2>" in body and 'aria-valuemax="10" aria-valuenow="0"' in body
    card_page = web.get(card.get_absolute_url()).content.decode()
    assert f'An import of 5 rows started {imported.created:%Y-%m-%d %H:%M:%S} UTC is in progress: ' \
           f'<a href="/routing/imports/{imported.pk}/">' in card_page
    # Halfway: every row read, none written yet.
    imported.job.progress_done = 5
    imported.job.status = "running"
    imported.job.save()
    body = status_page(web, imported)
    assert "<h2>Reading the rows…</h2>" in body and "5 of 5 rows read and checked, 0 written" in body
    imported.job.progress_done, imported.job.status = 0, "queued"
    imported.job.save()

    assert run_ready_jobs() == 1
    imported.refresh_from_db()
    card.refresh_from_db()
    assert card.active_revision.row_count == 5 and Rate.objects.filter(revision=card.active_revision).count() == 5
    assert (imported.revision, imported.summary, imported.text, imported.errors) == (
        card.active_revision, "Imported 5 rows as revision 1 (active).", "", [])
    assert (imported.job.status, imported.job.progress_done) == ("done", 10)
    body = status_page(web, imported)
    assert "refresh" not in body and 'aria-valuenow="10"' in body
    assert "Imported 5 rows as revision 1 (active)." in body and "5 of 5 rows read and checked, 5 written" in body
    assert "in progress" not in web.get(card.get_absolute_url()).content.decode()
    # The worker carried it out; the operator made the change.
    created = ObjectChange.objects.get(object_type__model="raterevision", action="create")
    assert (created.source, created.user, created.user_name) == ("job", operator_user, operator_user.username)
    assert run_ready_jobs() == 0


def test_a_large_deck_with_errors_lists_them_and_writes_nothing(web: Client) -> None:
    with change_context(source="test"):
        card = make_card(name="Retail")
    post(web, card, deck(4) + "440,Again,0.01,0,1,1,0,active\n33,France,1E-3,0,1,1,0,active\n")
    run_ready_jobs()
    imported = RateImport.objects.get()
    assert imported.summary == "2 rows with errors; nothing was imported."
    assert imported.errors == [["row 6", "prefix", "Prefix 440 is on rows 2 and 6; a card has one row per prefix."],
                               ["row 7", "rate", "Scientific notation such as 1E-3 is not accepted; write the number "
                                                 "in full."]]
    assert imported.revision is None and not RateRevision.objects.filter(card=card).exists()
    body = status_page(web, imported)
    assert 'data-testid="import-errors"' in body and "Nothing was written" in body


def test_a_bad_mapping_is_refused_at_once_and_nothing_is_queued(web: Client) -> None:
    with change_context(source="test"):
        card = make_card(name="Retail")
    response = post(web, card, deck(5), columns="prefix,cost")
    assert response.status_code == 200 and "Unknown column &#x27;cost&#x27;" in response.content.decode()
    assert not RateImport.objects.exists()


def test_progress_counts_rows_read_then_rows_written() -> None:
    with change_context(source="test"):
        card = make_card(name="Retail")
        heard: list[int] = []
        text = HEADER + "".join(f"{10_000_000 + number},R,0.01,0,1,1,0,active\n" for number in range(25_000))
        result = rate_card_import(card=card, text=text, progress=heard.append)
    assert result.revision is not None and result.revision.row_count == 25_000
    assert heard == [10_000, 20_000, 35_000, 45_000]
