"""CSV import of customers, through the API and through the control panel: all rows or none."""

import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.customers.models import Customer

URL = "/api/v1/customers/import/"
UI_URL = "/customers/import/"

SCIENTIFIC = "Scientific notation such as 1E+5 is not accepted; write the number in full."
COLUMNS = (
    "address_line1, address_line2, approved_clis_only, channels, city, country, cps, currency, debit_limit, "
    "email_verification, id, minimum_payment, mobile_verification, name, notes, paypal_email, portal_access, "
    "postcode, region, status, tags, tax_rate, vars, website"
)

THREE_ROWS = (
    "name,currency,status,debit_limit,tax_rate,country,channels,cps,tags,portal_access,paypal_email\n"
    "Acme Telecom,USD,active,250.50,0,US,30,5,\"vip, wholesale\",true,pay@acme.example\n"
    "Blue Ocean Voice,GBP,pending_approval,0,20,GB,0,0,,false,\n"
    "Northwind Connect,EUR,penalty,1000,19,DE,120,20,trial,yes,\n"
)



def counts() -> tuple[int, int]:
    return Customer.objects.count(), ObjectChange.objects.count()


def send(api, text: str | bytes, *, dry_run: bool = False):
    body = text.encode() if isinstance(text, str) else text
    return api.post(URL + ("?dry_run=1" if dry_run else ""), body, content_type="text/csv")


def customer_changes():
    return ObjectChange.objects.filter(object_type__model="customer")


# API: the happy paths


def test_a_valid_file_creates_every_row(api):
    response = send(api, THREE_ROWS)

    assert response.status_code == 200, response.content
    assert response.json() == {"detail": "Imported 3 rows: 3 new, 0 updated.", "dry_run": False, "created": 3,
                               "updated": 0}
    assert Customer.objects.count() == 3
    acme = Customer.objects.get(name="Acme Telecom")
    assert (acme.currency, acme.status, acme.debit_limit, acme.tax_rate, acme.country, acme.channels, acme.cps) == (
        "USD", "active", Decimal("250.5"), Decimal("0"), "US", 30, 5)
    assert acme.tags == ["vip", "wholesale"]
    assert acme.portal_access is True
    assert acme.paypal_email == "pay@acme.example"
    blue = Customer.objects.get(name="Blue Ocean Voice")
    assert (blue.status, blue.tax_rate, blue.tags, blue.portal_access, blue.paypal_email) == (
        "pending_approval", Decimal("20"), [], False, "")
    north = Customer.objects.get(name="Northwind Connect")
    assert (north.currency, north.status, north.tags, north.portal_access) == ("EUR", "penalty", ["trial"], True)


def test_every_imported_row_is_in_the_audit_log(api):
    response = send(api, THREE_ROWS)

    changes = customer_changes()
    assert changes.count() == 3
    assert set(changes.values_list("action", "source", "user_name")) == {("create", "api", "operator")}
    assert set(changes.values_list("request_id", flat=True)) == {uuid.UUID(response["X-Request-ID"])}
    assert sorted(changes.values_list("object_repr", flat=True)) == [
        "Acme Telecom", "Blue Ocean Voice", "Northwind Connect"]


def test_dry_run_validates_and_writes_nothing(api):
    before = counts()

    response = send(api, THREE_ROWS, dry_run=True)

    assert response.status_code == 200, response.content
    assert response.json() == {"detail": "Ready to import 3 rows: 3 new, 0 updated.", "dry_run": True,
                               "created": 3, "updated": 0}
    assert counts() == before


def test_dry_run_reports_errors_too(api):
    before = counts()

    response = send(api, "name,currency\nAcme,XYZ\n", dry_run=True)

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "row 2": {"currency": ["'XYZ' is not an ISO 4217 currency code (such as USD, EUR, GBP)."]}}
    assert counts() == before


def test_minimal_columns_take_the_defaults(api):
    response = send(api, "name,currency\nAcme,USD\n")

    assert response.status_code == 200, response.content
    acme = Customer.objects.get()
    assert (acme.status, acme.debit_limit, acme.channels, acme.tags, acme.portal_access) == (
        "active", Decimal("0"), 0, [], True)


def test_a_row_with_an_id_updates_that_customer(api):
    acme = make_customer(name="Acme", status="active", channels=10, city="Dallas", currency="USD")
    before = counts()

    response = send(api, f"id,name,status,channels,city\n{acme.pk},,inactive,40,\n")

    assert response.status_code == 200, response.content
    assert response.json() == {"detail": "Imported 1 row: 0 new, 1 updated.", "dry_run": False, "created": 0,
                               "updated": 1}
    acme.refresh_from_db()
    # Blank cells leave the field as it is.
    assert (acme.name, acme.status, acme.channels, acme.city, acme.currency) == (
        "Acme", "inactive", 40, "Dallas", "USD")
    assert counts() == (before[0], before[1] + 1)
    change = customer_changes().get(action="update")
    assert change.object_id == acme.pk
    assert (change.prechange_data["status"], change.postchange_data["status"]) == ("active", "inactive")
    assert (change.prechange_data["channels"], change.postchange_data["channels"]) == (10, 40)


def test_one_file_can_create_and_update(api):
    acme = make_customer(name="Acme", cps=1)

    response = send(api, f"id,name,currency,cps\n{acme.pk},,,7\n,Fresh,EUR,3\n")

    assert response.status_code == 200, response.content
    assert response.json()["detail"] == "Imported 2 rows: 1 new, 1 updated."
    assert list(Customer.objects.order_by("name").values_list("name", "cps")) == [("Acme", 7), ("Fresh", 3)]


def test_an_update_row_cannot_change_the_currency(api):
    acme = make_customer(name="Acme", currency="USD")
    before = counts()

    response = send(api, f"id,currency\n{acme.pk},EUR\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "row 2": {"currency": ["The currency cannot be changed after the customer is created (it is USD)."]}}
    acme.refresh_from_db()
    assert acme.currency == "USD"
    assert counts() == before


def test_an_unknown_id_is_refused(api):
    before = counts()

    response = send(api, "id,name\n999999,Ghost\nabc,Other\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "row 2": {"id": ["No customer with id 999999."]},
        "row 3": {"id": ["No customer with id abc."]},
    }
    assert counts() == before


def test_a_new_row_in_a_file_with_an_id_column_still_needs_name_and_currency(api):
    before = counts()

    response = send(api, "id,name,city\n,Nameless Currency,Paris\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"currency": ["This field is required."]}}
    assert counts() == before


def test_a_utf8_bom_is_accepted(api):
    response = send(api, "\ufeffname,currency\nCafé Telecom,EUR\n".encode())

    assert response.status_code == 200, response.content
    assert Customer.objects.get().name == "Café Telecom"


def test_a_quoted_cell_over_two_lines_counts_as_one_row(api):
    """Row numbers are the spreadsheet's, not the text file's lines."""
    before = counts()

    response = send(api, 'name,currency,notes\nAcme,USD,"line one\nline two"\nBad,XYZ,\n')

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["row 3"]
    assert counts() == before


def test_a_multipart_file_upload_works(api):
    upload = SimpleUploadedFile("customers.csv", THREE_ROWS.encode(), content_type="text/csv")

    response = api.post(URL, {"file": upload}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3
    assert Customer.objects.count() == 3


def test_a_multipart_dry_run_writes_nothing(api):
    upload = SimpleUploadedFile("customers.csv", THREE_ROWS.encode(), content_type="text/csv")
    before = counts()

    response = api.post(f"{URL}?dry_run=true", {"file": upload}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is True
    assert counts() == before


# API: refusals, with nothing written


@pytest.mark.parametrize("missing", ["name", "currency"])
def test_a_missing_required_column_is_named(api, missing):
    columns = [name for name in ("name", "currency", "status") if name != missing]
    values = {"name": "Acme", "currency": "USD", "status": "active"}
    text = ",".join(columns) + "\n" + ",".join(values[name] for name in columns) + "\n"
    before = counts()

    response = send(api, text)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 1": {missing: [f"The required column '{missing}' is missing."]}},
    }
    assert counts() == before


def test_an_unknown_column_is_refused(api):
    before = counts()

    response = send(api, "name,currency,colour\nAcme,USD,red\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 1": {"colour": [f"Unknown column 'colour'. Columns are the API field names: {COLUMNS}."]}},
    }
    assert counts() == before


def test_the_read_only_balance_cannot_be_imported(api):
    before = counts()

    response = send(api, "name,currency,balance\nAcme,USD,1000\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "row 1": {"balance": [f"Unknown column 'balance'. Columns are the API field names: {COLUMNS}."]}}
    assert counts() == before


def test_a_repeated_column_is_refused(api):
    before = counts()

    response = send(api, "name,currency,name\nAcme,USD,Other\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 1": {"name": ["Column 'name' appears twice."]}}
    assert counts() == before


def test_one_bad_row_means_nothing_is_written(api):
    acme = make_customer(name="Acme", channels=1)
    before = counts()

    response = send(api, f"id,name,currency,status,channels\n{acme.pk},,,,50\n,Good One,USD,active,1\n"
                         ",Bad One,USD,bogus,1\n,Good Two,EUR,active,2\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 4": {"status": ['"bogus" is not a valid choice.']}},
    }
    assert counts() == before
    acme.refresh_from_db()
    assert acme.channels == 1
    assert not Customer.objects.filter(name__in=["Good One", "Good Two"]).exists()


def test_errors_name_every_bad_row_and_field(api):
    before = counts()

    response = send(api, "name,currency,debit_limit,tax_rate,country\n"
                         "Fine,USD,10,0,US\n"
                         "Negative,USD,-5,0,US\n"
                         "Fine Too,USD,0,0,GB\n"
                         "Taxing,USD,0,150,XX\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "2 rows with errors; nothing was imported.",
        "errors": {
            "row 3": {"debit_limit": ["Ensure this value is greater than or equal to 0."]},
            "row 5": {
                "tax_rate": ["Must be a percentage between 0 and 100."],
                "country": ["'XX' is not an ISO 3166-1 alpha-2 country code (such as GB, US, DE)."],
            },
        },
    }
    assert counts() == before


@pytest.mark.parametrize("column", ["debit_limit", "minimum_payment", "tax_rate", "channels", "cps"])
def test_scientific_notation_is_refused_with_the_clear_message(api, column):
    before = counts()

    response = send(api, f"name,currency,{column}\nFine,USD,1\nSpreadsheet,USD,1E+5\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 3": {column: [SCIENTIFIC]}},
    }
    assert counts() == before


def test_duplicate_names_in_the_file_name_both_rows(api):
    before = counts()

    response = send(api, "name,currency\nAcme,USD\nOther,USD\nACME,EUR\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 4": {"name": ["'ACME' is also on row 2."]}},
    }
    assert counts() == before


def test_a_name_already_in_the_database_is_refused(api):
    make_customer(name="Acme")
    before = counts()

    response = send(api, "name,currency\nAcme,USD\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"name": ["customer with this customer name already exists."]}}
    assert counts() == before


def test_an_empty_row_is_refused(api):
    before = counts()

    response = send(api, "name,currency\nAcme,USD\n,\nOther,USD\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 3": {"row": ["The row is empty; remove it."]}},
    }
    assert counts() == before


def test_a_blank_line_is_an_empty_row(api):
    before = counts()

    response = send(api, "name,currency\nAcme,USD\n\nOther,USD\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 3": {"row": ["The row is empty; remove it."]}}
    assert counts() == before


def test_a_row_with_the_wrong_number_of_cells_is_refused(api):
    before = counts()

    response = send(api, "name,currency\nAcme,USD,extra\n")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 2": {"row": ["The row has 3 cells but the header has 2."]}}
    assert counts() == before


@pytest.mark.parametrize(("text", "errors"), [
    ("", {"row 1": {"file": ["The file is empty; the first row must name the columns."]}}),
    ("name,currency\n", {"row 1": {"file": ["The file has a header but no rows."]}}),
])
def test_an_empty_file_is_refused(api, text, errors):
    before = counts()

    response = send(api, text)

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert counts() == before


def test_a_non_utf8_upload_is_refused_clearly(api):
    upload = SimpleUploadedFile("customers.csv", "name,currency\nCafé Telecom,EUR\n".encode("latin-1"),
                                content_type="text/csv")
    before = counts()

    response = api.post(URL, {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "file: The file is not UTF-8 text; save it as CSV (UTF-8).",
        "errors": {"file": ["The file is not UTF-8 text; save it as CSV (UTF-8)."]},
    }
    assert counts() == before


def test_a_non_utf8_body_is_refused_clearly(api):
    before = counts()

    response = send(api, "name,currency\nCafé Telecom,EUR\n".encode("cp1252"))

    assert response.status_code == 400
    assert response.json()["errors"] == {"file": ["The file is not UTF-8 text; save it as CSV (UTF-8)."]}
    assert counts() == before


def test_a_json_body_carries_the_csv_text(api):
    response = api.post(URL, {"csv": "name,currency\nAcme,USD\n"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    assert Customer.objects.get().name == "Acme"


def test_a_json_body_without_csv_is_an_empty_file(api):
    before = counts()

    response = api.post(URL, {"name": "Acme", "currency": "USD"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"row 1": {
        "file": ["The file is empty; the first row must name the columns."]}}
    assert counts() == before


def test_the_same_id_twice_is_refused(api):
    """Two rows updating one customer would each start from the stored state: the second would undo the first."""
    acme = make_customer(name="Acme", status="active", channels=1)
    before = counts()

    response = send(api, f"id,status,channels\n{acme.pk},inactive,\n{acme.pk},,4\n")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "1 row with errors; nothing was imported.",
        "errors": {"row 3": {"id": [f"'{acme.pk}' is also on row 2."]}},
    }
    acme.refresh_from_db()
    assert (acme.status, acme.channels) == ("active", 1)
    assert counts() == before


# Control panel


def test_ui_import_page_renders(web):
    response = web.get(UI_URL)

    assert response.status_code == 200
    assert b"Bulk upload customers" in response.content


def test_ui_preview_writes_nothing(web):
    before = counts()

    response = web.post(UI_URL, {"csv": THREE_ROWS})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Preview: Ready to import 3 rows: 3 new, 0 updated." in html
    assert '<span class="badge badge-create">create</span>' in html
    assert "<td>Northwind Connect</td>" in html
    assert 'name="_confirm"' in html
    assert counts() == before


def test_ui_confirm_writes_every_row(web):
    before = counts()

    response = web.post(UI_URL, {"csv": THREE_ROWS, "_confirm": ""})

    assert response.status_code == 302
    assert response["Location"] == "/customers/"
    assert Customer.objects.count() == before[0] + 3
    changes = customer_changes()
    assert changes.count() == 3
    assert set(changes.values_list("source", "user_name", "action")) == {("web", "operator", "create")}
    assert set(changes.values_list("request_id", flat=True)) == {uuid.UUID(response["X-Request-ID"])}


def test_ui_file_upload_preview(web):
    upload = SimpleUploadedFile("customers.csv", THREE_ROWS.encode(), content_type="text/csv")
    before = counts()

    response = web.post(UI_URL, {"file": upload})

    assert response.status_code == 200
    assert "Preview: Ready to import 3 rows: 3 new, 0 updated." in response.content.decode()
    assert counts() == before


@pytest.mark.parametrize("confirm", [False, True])
def test_ui_bad_row_shows_the_error_and_writes_nothing(web, confirm):
    text = "name,currency,debit_limit\nFine,USD,1\nSpreadsheet,USD,1E+5\n"
    data = {"csv": text, **({"_confirm": ""} if confirm else {})}
    before = counts()

    response = web.post(UI_URL, data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 row with errors; nothing was imported." in html
    assert f"<tr><td>Row 3</td><td class=\"mono\">debit_limit</td><td>{SCIENTIFIC}</td></tr>" in html
    assert 'name="_confirm"' not in html
    assert counts() == before


def test_ui_non_utf8_upload_is_refused_clearly(web):
    upload = SimpleUploadedFile("customers.csv", "name,currency\nCafé,EUR\n".encode("latin-1"),
                                content_type="text/csv")
    before = counts()

    response = web.post(UI_URL, {"file": upload, "_confirm": ""})

    assert response.status_code == 200
    assert "The file is not UTF-8 text; save it as CSV (UTF-8)." in response.content.decode()
    assert counts() == before


def test_ui_import_is_refused_to_a_viewer(client, viewer_user):
    client.force_login(viewer_user)
    before = counts()

    response = client.post(UI_URL, {"csv": THREE_ROWS, "_confirm": ""})

    assert response.status_code == 403
    assert counts() == before
