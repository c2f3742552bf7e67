"""The pure-Python deck parser agrees with the models and with the switch's contracts."""

from decimal import Decimal

from trunkline.contracts import snapshot
from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE
from trunkline.routing.choices import RateStatus
from trunkline.routing.ratefile import COLUMNS, RateValues, parse_columns, parse_rates


def test_layouts_agree() -> None:
    assert RateValues._fields == COLUMNS
    assert set(RateStatus.values) == {status.value for status in snapshot.RateStatus}


def test_defaults_and_skipped_columns() -> None:
    result = parse_rates("x,44,ignored,0.5\n", start_row=1, columns=parse_columns("-,prefix,skip,rate"))
    assert not result.errors
    assert result.rows == [RateValues("44", "", Decimal("0.5"), Decimal(0), 1, 1, 0, "active")]


def test_increments_refuse_scientific_notation_and_fractions() -> None:
    result = parse_rates("44,UK,0.1,0,1E+5,1.5,-1,Blocked\n", start_row=1)
    assert result.errors == {"row 1": {
        "mcd": [SCIENTIFIC_NOTATION_MESSAGE.format(value="1E+5")],
        "pulse": ["'1.5' is not a whole number of seconds of at least 1."],
        "grace": ["'-1' is not a whole number of seconds of at least 0."]}}
    assert parse_rates("44,UK,0.1,0,60,6,0,Blocked\n", start_row=1).rows[0].status == "blocked"
