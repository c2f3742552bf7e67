"""GET /api/v1/stats/: the Stats numbers per bucket from known rollups, exact; bad queries are 400s naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cdrs.stats_world import StatsWorld, stats_world

URL = "/api/v1/stats/"
DAY = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db) -> StatsWorld:
    return stats_world()


def _get(api, **params: Any) -> Any:
    return api.get(URL, params)


def _bucket(bucket: str, **fields: Any) -> dict[str, Any]:
    zero = {"attempts": 0, "connected": 0, "duration": 0, "customer_billed": 0, "pdd_ms": 0, "pdd_calls": 0,
            "customer_charge": "0.000000", "provider_charge": "0.000000", "profit": "0.000000", "profit_pct": None,
            "asr": None, "acd": None, "pdd": None, "channel_breaches": 0, "cps_breaches": 0}
    return {"bucket": bucket, **zero, **fields}


def test_customer_by_hour(api, world: StatsWorld) -> None:
    response = _get(api, customer=world.customer.pk, grain="hour", **DAY)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {key: body[key] for key in ("customer", "provider", "grain", "start", "end", "by_provider")} == {
        "customer": world.customer.pk, "provider": None, "grain": "hour", "start": "2026-12-01T00:00:00Z",
        "end": "2026-12-03T00:00:00Z", "by_provider": False}
    assert body["buckets"] == [
        _bucket("2026-12-01T10:00:00Z", attempts=23, connected=8, duration=700, customer_billed=750, pdd_ms=20000,
                pdd_calls=10, customer_charge="1.800000", provider_charge="1.200000", profit="0.600000",
                profit_pct="33.33", asr="34.78", acd="87.50", pdd=2000, channel_breaches=2, cps_breaches=1,
                channels_peak=7, cps_peak=3),
        _bucket("2026-12-01T12:00:00Z", attempts=5, connected=5, duration=300, customer_billed=300, pdd_ms=5500,
                pdd_calls=5, customer_charge="0.250000", provider_charge="0.100000", profit="0.150000",
                profit_pct="60.00", asr="100.00", acd="60.00", pdd=1100, channels_peak=4, cps_peak=2),
        _bucket("2026-12-02T09:00:00Z", attempts=4, connected=1, duration=45, customer_billed=60, pdd_ms=3000,
                pdd_calls=2, customer_charge="0.030000", provider_charge="0.020000", profit="0.010000",
                profit_pct="33.33", asr="25.00", acd="45.00", pdd=1500, channels_peak=1, cps_peak=1),
    ]
    assert body["codes"] == [
        {"bucket": "2026-12-01T10:00:00Z", "sip_code": 200, "calls": 8},
        {"bucket": "2026-12-01T10:00:00Z", "sip_code": 486, "calls": 4},
        {"bucket": "2026-12-01T10:00:00Z", "sip_code": 503, "calls": 11},
        {"bucket": "2026-12-01T12:00:00Z", "sip_code": 200, "calls": 5},
        {"bucket": "2026-12-02T09:00:00Z", "sip_code": 200, "calls": 1},
        {"bucket": "2026-12-02T09:00:00Z", "sip_code": 480, "calls": 3},
    ]


def test_customer_by_day(api, world: StatsWorld) -> None:
    body = _get(api, customer=world.customer.pk, grain="day", **DAY).json()
    fields = ("bucket", "attempts", "connected", "duration", "asr", "acd", "pdd", "customer_charge", "profit",
              "channels_peak", "cps_peak")
    assert [tuple(row[field] for field in fields) for row in body["buckets"]] == [
        ("2026-12-01T00:00:00Z", 28, 13, 1000, "46.43", "76.92", 1700, "2.050000", "0.750000", 7, 3),
        ("2026-12-02T00:00:00Z", 4, 1, 45, "25.00", "45.00", 1500, "0.030000", "0.010000", 1, 1),
    ]
    assert [(row["bucket"], row["sip_code"], row["calls"]) for row in body["codes"]] == [
        ("2026-12-01T00:00:00Z", 200, 13), ("2026-12-01T00:00:00Z", 486, 4), ("2026-12-01T00:00:00Z", 503, 11),
        ("2026-12-02T00:00:00Z", 200, 1), ("2026-12-02T00:00:00Z", 480, 3)]


def test_customer_by_month_and_provider(api, world: StatsWorld) -> None:
    body = _get(api, customer=world.customer.pk, grain="month", by_provider="true", **DAY).json()
    assert body["by_provider"] is True
    assert [(row["bucket"], row["provider_id"], row["attempts"], row["connected"], row["asr"], row["acd"],
             row["channels_peak"]) for row in body["buckets"]] == [
        ("2026-12-01T00:00:00Z", 0, 3, 0, "0.00", None, None),
        ("2026-12-01T00:00:00Z", world.alpha.pk, 15, 11, "73.33", "81.82", None),
        ("2026-12-01T00:00:00Z", world.beta.pk, 14, 3, "21.43", "48.33", None),
    ]


def test_provider_by_hour(api, world: StatsWorld) -> None:
    """Alpha's page: every customer's calls through Alpha, with Alpha's own peaks."""
    body = _get(api, provider=world.alpha.pk, grain="hour", **DAY).json()
    assert body["provider"] == world.alpha.pk and body["customer"] is None
    assert [(row["bucket"], row["attempts"], row["connected"], row["duration"], row["asr"], row["acd"],
             row["channels_peak"], row["cps_peak"]) for row in body["buckets"]] == [
        ("2026-12-01T10:00:00Z", 17, 6, 600, "35.29", "100.00", 5, 2),
        ("2026-12-01T12:00:00Z", 5, 5, 300, "100.00", "60.00", 4, 2),
    ]
    assert [(row["sip_code"], row["calls"]) for row in body["codes"]] == [(200, 6), (408, 7), (486, 4), (200, 5)]


def test_customer_through_one_provider(api, world: StatsWorld) -> None:
    body = _get(api, customer=world.customer.pk, provider=world.beta.pk, grain="day", **DAY).json()
    assert [(row["bucket"], row["attempts"], row["connected"]) for row in body["buckets"]] == [
        ("2026-12-01T00:00:00Z", 10, 2), ("2026-12-02T00:00:00Z", 4, 1)]


def test_start_is_inclusive_end_exclusive(api, world: StatsWorld) -> None:
    body = _get(api, customer=world.customer.pk, grain="hour", start="2026-12-01T10:00:00Z",
                end="2026-12-01T12:00:00Z").json()
    assert [row["bucket"] for row in body["buckets"]] == ["2026-12-01T10:00:00Z"]


def test_empty_period(api, world: StatsWorld) -> None:
    body = _get(api, customer=world.customer.pk, grain="day", start="2026-11-01T00:00:00Z",
                end="2026-11-30T00:00:00Z").json()
    assert (body["buckets"], body["codes"]) == ([], [])


def test_viewer_reads(api_for, viewer_user, world: StatsWorld) -> None:
    assert api_for(viewer_user).get(URL, {"customer": world.customer.pk, "grain": "day", **DAY}).status_code == 200


def test_signed_out_is_refused(client, world: StatsWorld) -> None:
    assert client.get(URL, {"customer": world.customer.pk, "grain": "day", **DAY}).status_code in (401, 403)


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"grain": "day", **DAY}, "customer", "Give customer or provider."),
    ({"customer": 999999, "grain": "day", **DAY}, "customer", "No customer with id 999999."),
    ({"provider": 999999, "grain": "day", **DAY}, "provider", "No provider with id 999999."),
    ({"customer": "x", "grain": "day", **DAY}, "customer", "A valid integer is required."),
    ({"customer": 2**63, "grain": "day", **DAY}, "customer",
     "Ensure this value is less than or equal to 9223372036854775807."),
    ({"customer": "W", "grain": "day", "start": "0001-01-01T00:00:00+14:00", "end": DAY["end"]}, "start",
     "Datetime value out of range."),
    ({"customer": "W", "grain": "week", **DAY}, "grain", '"week" is not a valid choice.'),
    ({"customer": "W", "grain": "day", "end": DAY["end"]}, "start", "This field is required."),
    ({"customer": "W", "grain": "day", "start": "yesterday", "end": DAY["end"]}, "start",
     "Datetime has wrong format. Use one of these formats instead: "
     "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."),
    ({"customer": "W", "grain": "day", "start": DAY["end"], "end": DAY["start"]}, "end",
     "The end must be after the start."),
    ({"customer": "W", "grain": "hour", "start": "2026-01-01T00:00:00Z", "end": "2026-02-01T01:00:00Z"}, "end",
     "At most 31 days at hour grain; this range is 31.0417 days. Choose a coarser grain or a shorter range."),
    ({"customer": "W", "grain": "month", "start": "2025-01-01T00:00:00Z", "end": "2026-02-06T00:00:00Z"}, "end",
     "At most 400 days at month grain; this range is 401 days. Choose a coarser grain or a shorter range."),
])
def test_bad_queries_name_the_field(api, world: StatsWorld, params: dict[str, Any], field: str,
                                    message: str) -> None:
    params = {key: (world.customer.pk if value == "W" else value) for key, value in params.items()}
    response = _get(api, **params)
    assert response.status_code == 400
    assert response.json() == {"detail": f"{field}: {message}", "errors": {field: [message]}}


def test_hour_grain_takes_31_days(api, world: StatsWorld) -> None:
    response = _get(api, customer=world.customer.pk, grain="hour", start="2026-11-05T00:00:00Z",
                    end="2026-12-06T00:00:00Z")
    assert response.status_code == 200
    assert len(response.json()["buckets"]) == 3


def test_in_the_openapi_schema(api) -> None:
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/stats/"]["get"]
    assert {param["name"] for param in operation["parameters"]} == {"customer", "provider", "grain", "start", "end",
                                                                     "by_provider"}
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/Stats"
