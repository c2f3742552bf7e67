"""One way to write a moment (ISO 8601, UTC) and a percentage, on every page that shows one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from django.test import Client

from tests.factories import make_customer
from trunkline.core.formats import percent_text, utc_text
from trunkline.core.models import User
from trunkline.customers.models import Customer

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def test_a_moment_is_written_in_utc_to_the_second() -> None:
    assert utc_text(MOMENT) == "2026-03-04 05:06:07 UTC"
    assert utc_text(MOMENT.astimezone(timezone(timedelta(hours=-5)))) == "2026-03-04 05:06:07 UTC"
    assert utc_text(date(2026, 3, 4)) == "2026-03-04"
    assert utc_text(None) == ""


def test_a_percentage_keeps_the_decimals_the_form_shows() -> None:
    assert percent_text(Decimal("20.0000")) == "20.00 %"
    assert percent_text(Decimal("7.6250")) == "7.625 %"
    assert percent_text(Decimal("0")) == "0.00 %"


def test_the_operators_page_writes_times_in_utc(admin_user: User) -> None:
    User.objects.filter(pk=admin_user.pk).update(last_login=MOMENT, date_joined=MOMENT - timedelta(days=1))
    client = Client()
    client.force_login(admin_user)
    User.objects.filter(pk=admin_user.pk).update(last_login=MOMENT)  # force_login stamped it with now
    listing = client.get("/operators/?columns=last_login").content.decode()
    assert "2026-03-04 05:06:07 UTC" in listing
    page = client.get(f"/operators/{admin_user.pk}/").content.decode()
    assert "<dt>Last login</dt><dd>2026-03-04 05:06:07 UTC</dd>" in page
    assert "<dt>Joined</dt><dd>2026-03-03 05:06:07 UTC</dd>" in page


def test_the_board_the_card_and_the_form_show_tax_alike(web: Client, setup_context) -> None:
    customer = make_customer(name="Acme", tax_rate=Decimal("7.625"))
    web.post("/preferences/tables/CustomerTable/", {"columns": '["tax_rate"]'})
    board = web.get("/customers/").content.decode()
    assert '<td class="num">7.625 %</td>' in board
    card = web.get(f"/customers/{customer.pk}/").content.decode()
    assert "<dt>Tax</dt><dd>7.625 %</dd>" in card
    form = web.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert 'name="tax_rate" value="7.625"' in form
    Customer.objects.filter(pk=customer.pk).update(tax_rate=Decimal("20"))
    assert '<td class="num">20.00 %</td>' in web.get("/customers/").content.decode()
    assert "<dt>Tax</dt><dd>20.00 %</dd>" in web.get(f"/customers/{customer.pk}/").content.decode()
    assert 'name="tax_rate" value="20.00"' in web.get(f"/customers/{customer.pk}/edit/").content.decode()
