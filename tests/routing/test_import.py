"""Rate deck import through POST /api/v1/rate-cards/{id}/import/ and export through .../export/."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.routing.helpers import HEADER, load_rates, make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE
from trunkline.routing.models import Rate, RateCard, RateRevision
from trunkline.routing.ratefile import MAX_LISTED_ERRORS

DECK = ("44,UK,0.012000,0.000000,1,1,0,active\n"
        "441,UK Landline,0.010000,0.000000,60,6,0,active\n"
        "447,UK Mobile,0.045000,0.010000,30,6,2,blocked\n")
ROW_FIELDS = ("prefix", "name", "rate", "connection_fee", "mcd", "pulse", "grace", "status")


def import_url(card: RateCard) -> str:
    return reverse("api:ratecard-import-rates", args=[card.pk])


def export_url(card: RateCard) -> str:
    return reverse("api:ratecard-export", args=[card.pk])


def rows_of(revision: RateRevision) -> list[tuple]:
    return list(Rate.objects.filter(revision=revision).order_by("prefix").values_list(*ROW_FIELDS))


def counts() -> tuple[int, int, int]:
    return RateRevision.objects.count(), Rate.objects.count(), ObjectChange.objects.count()


@pytest.fixture
def card(db) -> RateCard:
    return make_card(name="Retail")


def post_csv(api, card: RateCard, text: str, query: str = ""):
    return api.generic("POST", f"{import_url(card)}?{query}", text.encode(), content_type="text/csv")


def test_import_text_body_with_mapping_activates(api, card) -> None:
    text = "Our deck\ncode;ignored\n" + "\n".join(
        f"{prefix},x,{name},{rate}" for prefix, name, rate in [("44", "UK", "0.0120"), ("33", "France", "0.02")])
    before = ObjectChange.objects.count()
    response = post_csv(api, card, text, "start_row=3&columns=prefix,-,name,rate")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rows"] == 2 and body["activated"] is True and body["dry_run"] is False
    assert body["revision"]["number"] == 1 and body["revision"]["active"] is True
    assert body["detail"] == "Imported 2 rows as revision 1 (active)."
    card.refresh_from_db()
    assert card.active_revision.number == 1
    assert rows_of(card.active_revision) == [
        ("33", "France", Decimal("0.020000"), Decimal("0"), 1, 1, 0, "active"),
        ("44", "UK", Decimal("0.012000"), Decimal("0"), 1, 1, 0, "active")]
    # One entry for the revision and one for the card's switch of revision: never one per row.
    entries = ObjectChange.objects.order_by("id")[before:]
    assert [(e.object_type.model, e.action) for e in entries] == [("raterevision", "create"),
                                                                  ("ratecard", "update")]
    assert entries[1].prechange_data["active_revision"] is None
    assert entries[1].postchange_data["active_revision"] == card.active_revision.pk


def test_import_multipart_with_options_as_fields(api, card) -> None:
    upload = SimpleUploadedFile("deck.csv", (HEADER + DECK).encode(), "text/csv")
    response = api.post(import_url(card), {"file": upload, "activate": "false",
                                           "note": "Q3 deck"}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["activated"] is False
    revision = RateRevision.objects.get(card=card)
    assert revision.note == "Q3 deck" and revision.row_count == 3
    card.refresh_from_db()
    assert card.active_revision is None


def test_import_json_body(api, card) -> None:
    response = api.post(import_url(card), {"csv": DECK, "start_row": 1, "columns": list(ROW_FIELDS)},
                        format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["rows"] == 3


def test_dry_run_writes_nothing(api, card) -> None:
    before = counts()
    response = post_csv(api, card, HEADER + DECK, "dry_run=true")
    assert response.status_code == 200
    assert response.json()["detail"] == "Ready to import 3 rows."
    assert response.json()["revision"] is None
    assert counts() == before


def test_errors_name_rows_and_fields_and_nothing_is_written(api, card) -> None:
    load_rates(card, DECK)
    before = counts()
    text = (HEADER
            + "44,UK,0.01,0,1,1,0,active\n"            # row 2
            + "4x4,Bad,0.01,0,1,1,0,active\n"          # row 3: prefix
            + "33,France,1E+5,0,1,1,0,active\n"        # row 4: scientific notation
            + "\n"                                     # row 5: empty
            + "44,UK again,0.02,0,1,1,0,active\n"      # row 6: duplicate of row 2
            + "49,Germany,0.0100001,0,1,0,0,paused\n"  # row 7: 7 places, pulse 0, status
            + "1,USA,-0.5,abc,1,1,0,active\n"          # row 8: negative, not a number
            + ",,,\n")                                 # row 9: blank cells only
    response = post_csv(api, card, text)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "7 rows with errors; nothing was imported."
    assert body["errors"] == {
        "row 3": {"prefix": ["'4x4' is not a prefix: digits only, 1 to 20."]},
        "row 4": {"rate": [SCIENTIFIC_NOTATION_MESSAGE.format(value="1E+5")]},
        "row 5": {"row": ["The row is empty; remove it."]},
        "row 6": {"prefix": ["Prefix 44 is on rows 2 and 6; a card has one row per prefix."]},
        "row 7": {"rate": ["'0.0100001' has more than 6 decimal places; rates are never rounded on import."],
                  "pulse": ["'0' is not a whole number of seconds of at least 1."],
                  "status": ["'paused' is not a status; use active or blocked."]},
        "row 8": {"rate": ["'-0.5' is negative; give 0 or more."],
                  "connection_fee": ["'abc' is not a number."]},
        "row 9": {"row": ["The row is empty; remove it."]},
    }
    # Nothing written and nothing activated: the card still runs revision 1 with its 3 rows; the log holds the
    # operator's and the card's creation, revision 1's and its activation.
    assert counts() == before == (1, 3, 4)
    card.refresh_from_db()
    assert card.active_revision.number == 1 and card.active_revision.row_count == 3


def test_short_row_is_refused(api, card) -> None:
    response = post_csv(api, card, HEADER + "44,UK\n")
    assert response.json()["errors"] == {"row 2": {"row": ["The row has 2 cells; the column mapping reads 8."]}}


@pytest.mark.parametrize(("columns", "message"), [
    ("prefix,name,cost", "Unknown column 'cost'; columns are prefix, name, rate, connection_fee, mcd, pulse, "
                         "grace, status (or '-' to skip a column). The mapping needs a 'rate' column."),
    ("prefix,rate,rate", "Column 'rate' is mapped more than once."),
    ("name,rate", "The mapping needs a 'prefix' column."),
])
def test_bad_mapping_is_refused(api, card, columns, message) -> None:
    before = counts()
    response = post_csv(api, card, DECK, f"start_row=1&columns={columns}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"columns": [message]}
    assert counts() == before


def test_bad_start_row_and_empty_file(api, card) -> None:
    assert post_csv(api, card, DECK, "start_row=0").json()["errors"] == {
        "start_row": ["Ensure this value is greater than or equal to 1."]}
    assert post_csv(api, card, HEADER).json()["errors"] == {"row 1": {"file": ["The file has no rows from row 2 on."]}}


def test_viewer_cannot_import(api_for, viewer_user, card) -> None:
    before = counts()
    response = api_for(viewer_user).generic("POST", import_url(card), (HEADER + DECK).encode(),
                                            content_type="text/csv")
    assert response.status_code == 403
    assert counts() == before


def test_export_round_trip(api, card) -> None:
    first = load_rates(card, DECK)
    response = api.get(export_url(card))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode()
    assert text == HEADER + DECK
    other = make_card(name="Copy")
    assert post_csv(api, other, text).status_code == 200
    other.refresh_from_db()
    assert rows_of(other.active_revision) == rows_of(first)


def test_export_names_a_revision(api, card) -> None:
    load_rates(card, DECK)
    load_rates(card, "1,USA,0.005000,0.000000,6,6,0,active\n")
    old = b"".join(api.get(f"{export_url(card)}?revision=1").streaming_content).decode()
    assert old == HEADER + DECK
    assert api.get(f"{export_url(card)}?revision=9").json()["errors"] == {"revision": ["The card has no revision 9."]}
    empty = make_card()
    assert api.get(export_url(empty)).status_code == 400


def test_names_keep_quotes_commas_tabs_and_backslashes(api, card) -> None:
    name = 'Say "hi", \\N\tthen go'
    text = HEADER + '44,"Say ""hi"", \\N\tthen go",0.01,0,1,1,0,active\n'
    assert post_csv(api, card, text).status_code == 200
    card.refresh_from_db()
    assert Rate.objects.get(revision=card.active_revision).name == name
    exported = b"".join(api.get(export_url(card)).streaming_content).decode()
    assert exported == HEADER + '44,"Say ""hi"", \\N\tthen go",0.010000,0.000000,1,1,0,active\n'


def test_import_is_documented_in_the_openapi_schema(api) -> None:
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/rate-cards/{id}/import/"]["post"]
    assert operation["operationId"] == "rate_cards_import_rates"
    assert {p["name"] for p in operation["parameters"]} >= {"start_row", "columns", "activate", "date_live",
                                                             "dry_run"}
    assert set(operation["requestBody"]["content"]) == {"text/csv", "multipart/form-data", "application/json"}
    assert "text/csv" in schema["paths"]["/api/v1/rate-cards/{id}/export/"]["get"]["responses"]["200"]["content"]


def test_a_long_error_list_is_capped_but_counted(api, card) -> None:
    text = HEADER + "".join(f"{n},x,bad,0,1,1,0,active\n" for n in range(1, MAX_LISTED_ERRORS + 6))
    body = post_csv(api, card, text).json()
    assert len(body["errors"]) == MAX_LISTED_ERRORS
    assert body["detail"] == (f"{MAX_LISTED_ERRORS + 5:,} rows with errors (the first {MAX_LISTED_ERRORS:,} are "
                              f"listed); nothing was imported.")
    assert "row 2" in body["errors"] and f"row {MAX_LISTED_ERRORS + 1}" in body["errors"]
    assert f"row {MAX_LISTED_ERRORS + 2}" not in body["errors"]


def test_no_file_is_refused(api, card) -> None:
    response = api.post(import_url(card), {"start_row": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"file": ["Send the CSV: a text/csv body, a 'file' upload or a 'csv' field."]}


def test_import_with_a_future_date_live_is_scheduled(api, card) -> None:
    load_rates(card, DECK)
    response = post_csv(api, card, HEADER + DECK, "date_live=2099-01-01T06:00:00Z")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["activated"] is False
    assert body["detail"] == "Imported 3 rows as revision 2 (scheduled for 2099-01-01 06:00:00 UTC)."
    assert body["revision"]["date_live"] == "2099-01-01T06:00:00Z"
    card.refresh_from_db()
    assert card.active_revision.number == 1
