"""Property value rules (values.py), checked over generated inputs."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.hubspot.values import normalise, parse_instant

DATE = {"name": "d", "type": "date", "fieldType": "date"}
NUMBER = {"name": "n", "type": "number", "fieldType": "number"}
INTEGER = dict(NUMBER, _integer=True)
ENUM = {"name": "e", "type": "enumeration", "fieldType": "select",
        "options": [{"value": "a"}, {"value": "b"}]}
MULTI = dict(ENUM, fieldType="checkbox")

days = st.integers(min_value=0, max_value=40_000).map(lambda d: datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=d))


@settings(max_examples=60, deadline=None)
@given(days)
def test_midnight_dates_accepted_in_every_form(day):
    ms = str(int(day.timestamp() * 1000))
    expected = day.strftime("%Y-%m-%d")
    for form in (ms, expected, day.isoformat().replace("+00:00", "Z")):
        assert normalise(DATE, form) == (expected, None)


@settings(max_examples=60, deadline=None)
@given(days, st.integers(min_value=1, max_value=86_399_999))
def test_non_midnight_dates_refused(day, offset_ms):
    value = str(int(day.timestamp() * 1000) + offset_ms)
    stored, problem = normalise(DATE, value)
    assert stored is None and problem[0] == "INVALID_DATE" and problem[1].endswith("UTC, not midnight!")


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(min_value=-10**12, max_value=10**12),
                 st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)))
def test_json_numbers_become_parseable_strings(value):
    stored, problem = normalise(NUMBER, value)
    assert problem is None and isinstance(stored, str) and float(stored) == float(value)


@given(st.text(alphabet="xyz,; ", min_size=1, max_size=6))
def test_garbage_numbers_refused(text):
    assert normalise(NUMBER, text)[1][0] == "INVALID_FLOAT"
    assert normalise(INTEGER, text)[1][0] == "INVALID_INTEGER"


def test_enumerations_and_clearing():
    assert normalise(ENUM, "a") == ("a", None)
    assert normalise(ENUM, "c")[1][0] == "INVALID_OPTION"
    assert normalise(MULTI, "a;b") == ("a;b", None)
    assert normalise(MULTI, "a;c")[1][0] == "INVALID_OPTION"
    assert normalise(ENUM, None) == ("", None) and normalise(DATE, "") == ("", None)
    assert normalise(INTEGER, "12.5")[1][0] == "INVALID_INTEGER"


def test_exact_reference_message():
    stored, problem = normalise(DATE, "2026-03-01T22:18:55.865Z")
    assert problem == ("INVALID_DATE", "2026-03-01T22:18:55.865Z is at 22:18:55.865 UTC, not midnight!")
    assert parse_instant("2026-03-01T23:30:00+01:00") == datetime(2026, 3, 1, 22, 30, tzinfo=timezone.utc)
