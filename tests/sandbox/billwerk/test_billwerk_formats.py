"""Wire formats: timestamps, dates, periods, key canonicalisation; the fixture itself."""
from __future__ import annotations

from datetime import datetime

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from sandbox.billwerk import BillwerkSandbox
from sandbox.billwerk.formats import add_period, canon_keys, fmt_ts, is_id, parse_ts


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
def test_timestamps_round_trip_with_seven_digits(dt):
    text = fmt_ts(dt)
    assert len(text) == 28 and text.endswith("Z") and text[19] == "." and text[20:27].isdigit()
    assert parse_ts(text) == dt


@pytest.mark.parametrize("text, expected", [
    ("2014-05-23T13:12:47.0760000Z", datetime(2014, 5, 23, 13, 12, 47, 76000)),
    ("2020-03-09T10:58:11.799Z", datetime(2020, 3, 9, 10, 58, 11, 799000)),
    ("2013-12-22T11:11:11Z", datetime(2013, 12, 22, 11, 11, 11)),
    ("2020-02-23T14:16:23.7556386Z", datetime(2020, 2, 23, 14, 16, 23, 755638)),
    ("2012-08-02", datetime(2012, 8, 2)),
    ("2022-06-09T02:00:00+02:00", datetime(2022, 6, 9)),
    ("2022-06-09T00:00", datetime(2022, 6, 9)),
])
def test_parse_accepts_every_shape_billwerk_uses(text, expected):
    assert parse_ts(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2020-13", "2020-01-01T10:00:00.12345678Z", "20200101"])
def test_parse_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_ts(text)


def test_periods_ids_and_keys():
    assert add_period(datetime(2024, 1, 31), {"Unit": "Month", "Quantity": 1}) == datetime(2024, 2, 29)
    assert add_period(datetime(2024, 2, 29), {"Unit": "Year", "Quantity": 1}) == datetime(2025, 2, 28)
    assert add_period(datetime(2024, 3, 1), {"Unit": "Day", "Quantity": 14}) == datetime(2024, 3, 15)
    assert add_period(datetime(2024, 3, 31), {"Unit": "Month", "Quantity": 1}, -1) == datetime(2024, 2, 29)
    assert is_id("5e53dab7443e5516749566e2") and not is_id("5e53dab7443e5516749566e") and not is_id(5)
    assert canon_keys({"url": 1, "events": [{"planVariantId": 2}], "CustomFields": {"apiName": 3}}) == \
        {"Url": 1, "Events": [{"PlanVariantId": 2}], "CustomFields": {"apiName": 3}}


def test_fixture_serves_the_sandbox(billwerk_sandbox):
    assert isinstance(billwerk_sandbox, BillwerkSandbox)
    r = requests.post(f"{billwerk_sandbox.base_url}/oauth/token/",
                      data={"grant_type": "client_credentials", "client_id": "hubwerk-sandbox-billwerk-client",
                            "client_secret": "hubwerk-sandbox-billwerk-secret"})
    assert r.status_code == 200


def test_serve_sets_base_url_and_settings_are_checked():
    bw = BillwerkSandbox()
    server = bw.serve()
    try:
        assert bw.base_url == server.url
        assert requests.get(f"{bw.base_url}/_sandbox/limits").json()["rate_limit"] == 10_000
    finally:
        server.stop()
        bw.stop()
    with pytest.raises(TypeError):
        BillwerkSandbox(no_such_setting=1)
