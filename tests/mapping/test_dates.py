from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from backend.mapping.dates import (
    hubspot_date, hubspot_date_ms, parse_billwerk_datetime, parse_hubspot_date, to_billwerk_datetime, utc_date,
)

UTC = timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("2014-05-23T13:12:47.0760000Z", datetime(2014, 5, 23, 13, 12, 47, 76000, UTC)),
    ("2014-05-23T13:12:47.0760001Z", datetime(2014, 5, 23, 13, 12, 47, 76000, UTC)),  # 100 ns dropped
    ("2014-05-23T13:12:47.1234567Z", datetime(2014, 5, 23, 13, 12, 47, 123456, UTC)),
    ("2013-12-22T11:11:11Z", datetime(2013, 12, 22, 11, 11, 11, 0, UTC)),
    ("2020-03-09T10:58:11.799Z", datetime(2020, 3, 9, 10, 58, 11, 799000, UTC)),
    ("2020-03-09T10:58:11.7Z", datetime(2020, 3, 9, 10, 58, 11, 700000, UTC)),
    ("2020-03-09T10:58:11.123456Z", datetime(2020, 3, 9, 10, 58, 11, 123456, UTC)),
    ("2020-03-09T10:58:11.799+02:00", datetime(2020, 3, 9, 8, 58, 11, 799000, UTC)),
    ("2020-03-09T10:58:11-0530", datetime(2020, 3, 9, 16, 28, 11, 0, UTC)),
    ("2020-03-09T10:58:11+01", datetime(2020, 3, 9, 9, 58, 11, 0, UTC)),
    ("2020-03-09T10:58:11", datetime(2020, 3, 9, 10, 58, 11, 0, UTC)),  # no zone: billwerk means UTC
    ("2020-03-09 10:58", datetime(2020, 3, 9, 10, 58, 0, 0, UTC)),
    ("2012-08-02", datetime(2012, 8, 2, tzinfo=UTC)),
    ("  2012-08-02  ", datetime(2012, 8, 2, tzinfo=UTC)),
])
def test_parse_billwerk_datetime(text, expected):
    parsed = parse_billwerk_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize("text", ["", "yesterday", "2014-05-23T13:12:47.01234567Z", "2014-13-01", "2014-02-30",
                                  "2014-05-23T25:00:00Z", "23.05.2014", "2014-05-23T13:12:47+24:00", "1400803200000"])
def test_parse_billwerk_datetime_refuses_garbage(text):
    with pytest.raises(ValueError):
        parse_billwerk_datetime(text)


def test_to_billwerk_datetime_has_seven_digits_and_z():
    assert to_billwerk_datetime(datetime(2014, 5, 23, 13, 12, 47, 76000, UTC)) == "2014-05-23T13:12:47.0760000Z"
    assert to_billwerk_datetime(datetime(2014, 5, 23, 15, 12, 47, tzinfo=timezone(timedelta(hours=2)))) == \
        "2014-05-23T13:12:47.0000000Z"
    assert to_billwerk_datetime(datetime(2014, 5, 23, 13, 12, 47)) == "2014-05-23T13:12:47.0000000Z"  # naive = UTC
    assert to_billwerk_datetime(date(2026, 2, 1)) == "2026-02-01T00:00:00.0000000Z"


def test_hubspot_date_is_the_utc_calendar_date():
    # 23:30 at -02:00 is already the next day in UTC; 00:30 at +02:00 is still the previous day.
    assert hubspot_date("2014-05-23T23:30:00-02:00") == "2014-05-24"
    assert hubspot_date("2014-05-24T00:30:00+02:00") == "2014-05-23"
    assert hubspot_date("2014-05-23T13:12:47.0760000Z") == "2014-05-23"
    assert hubspot_date(date(2026, 1, 5)) == "2026-01-05"
    assert hubspot_date(datetime(2026, 1, 5, 23, 59, 59)) == "2026-01-05"
    assert hubspot_date_ms("2026-01-05T22:18:55.865Z") == "1767571200000"
    assert hubspot_date_ms(date(1970, 1, 1)) == "0"
    assert hubspot_date_ms(date(1969, 12, 31)) == "-86400000"
    assert utc_date("2014-05-23") == date(2014, 5, 23)


def test_hubspot_date_refuses_other_types():
    with pytest.raises(TypeError):
        hubspot_date(1767571200000)  # type: ignore[arg-type]


@pytest.mark.parametrize("value, expected", [
    ("1767571200000", date(2026, 1, 5)),
    (1767571200000, date(2026, 1, 5)),
    ("1767653935865", date(2026, 1, 5)),   # a datetime property: its UTC date
    ("0", date(1970, 1, 1)),
    ("-86400000", date(1969, 12, 31)),
    ("2026-01-05", date(2026, 1, 5)),
    ("2026-01-05T00:00:00.000Z", date(2026, 1, 5)),
    ("2026-01-05T23:30:00-02:00", date(2026, 1, 6)),
    (None, None), ("", None), ("  ", None),
])
def test_parse_hubspot_date(value, expected):
    assert parse_hubspot_date(value) == expected


@pytest.mark.parametrize("value", ["tomorrow", "05.01.2026", "99999999999999999999999", True, 1.5])
def test_parse_hubspot_date_refuses_garbage(value):
    with pytest.raises(ValueError):
        parse_hubspot_date(value)


# --- round trips -------------------------------------------------------------------------

_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_AWARE = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30), timezones=_OFFSETS)


@given(_AWARE)
def test_billwerk_round_trip_keeps_the_instant(dt):
    text = to_billwerk_datetime(dt)
    assert len(text) == len("2014-05-23T13:12:47.0760000Z") and text.endswith("Z")
    back = parse_billwerk_datetime(text)
    assert back == dt and back.tzinfo == UTC
    assert to_billwerk_datetime(back) == text


@given(_AWARE, st.integers(min_value=0, max_value=7), st.sampled_from(["Z", "+00:00", "+02:00", "-0530", ""]))
def test_billwerk_strings_with_any_precision_round_trip(dt, digits, zone):
    text = dt.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{dt.microsecond:06d}0"[:digits]
    text += zone
    parsed = parse_billwerk_datetime(text)
    assert parse_billwerk_datetime(to_billwerk_datetime(parsed)) == parsed


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_dates_round_trip_through_hubspot_forms(day):
    assert parse_hubspot_date(hubspot_date(day)) == day
    assert parse_hubspot_date(hubspot_date_ms(day)) == day
    assert int(hubspot_date_ms(day)) % 86_400_000 == 0
    assert parse_billwerk_datetime(to_billwerk_datetime(day)).date() == day


@given(_AWARE)
def test_hubspot_date_of_a_timestamp_is_midnight_utc(dt):
    day = dt.astimezone(UTC).date()
    assert hubspot_date(dt) == day.isoformat()
    assert hubspot_date(to_billwerk_datetime(dt)) == day.isoformat()
    ms = int(hubspot_date_ms(dt))
    assert datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms) == datetime(day.year, day.month, day.day,
                                                                                    tzinfo=UTC)
