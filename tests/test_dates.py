"""parse_date and friends: the one way lstm-bt reads a UTC date."""

from datetime import date, datetime, timedelta, timezone

import pytest

from lstm_bt.data.dates import check_range, from_ms, parse_date, to_ms
from lstm_bt.errors import InvalidParameter


@pytest.mark.parametrize("text, expected", [
    ("2024-01-01", datetime(2024, 1, 1)),
    ("2024-01-01T12:30", datetime(2024, 1, 1, 12, 30)),
    ("2024-01-01 12:30:15", datetime(2024, 1, 1, 12, 30, 15)),
    ("2024-01-01T00:00:00Z", datetime(2024, 1, 1)),
    ("2024-01-01T02:00+02:00", datetime(2024, 1, 1)),
    (" 2024-06-30 ", datetime(2024, 6, 30)),
    (date(2024, 2, 29), datetime(2024, 2, 29)),
    (datetime(2024, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))), datetime(2024, 1, 1)),
])
def test_dates_are_read_as_naive_utc(text, expected):
    assert parse_date(text, "--start") == expected


@pytest.mark.parametrize("text", ["2024-13-01", "01/02/2024", "yesterday", "", None])
def test_a_bad_date_names_the_argument_the_value_and_the_form(text):
    with pytest.raises(InvalidParameter) as caught:
        parse_date(text, "--end")

    assert str(caught.value) == (f"Received an invalid value for `--end`: {text!r}. "
                                 f"Write a UTC date like 2024-01-01 or 2024-01-01T12:00.")


def test_a_range_must_run_forwards():
    check_range(datetime(2024, 1, 1), datetime(2024, 1, 2))
    check_range(datetime(2024, 1, 1), None)
    with pytest.raises(InvalidParameter, match="`--start` 2024-01-01 00:00 is not before `--end`"):
        check_range(datetime(2024, 1, 1), datetime(2024, 1, 1), "--start", "--end")


def test_milliseconds_round_trip():
    moment = datetime(2024, 3, 1, 10, 30, 0, 123000)

    assert to_ms(datetime(1970, 1, 1)) == 0
    assert to_ms(datetime(2024, 1, 1)) == 1_704_067_200_000
    assert from_ms(to_ms(moment)) == moment
