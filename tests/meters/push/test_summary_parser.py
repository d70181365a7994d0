"""The Summary API parser on arbitrary and on realistic answers (Hypothesis).

Whatever the service sends, `interpret_summary` returns a page or raises one of the library's
typed errors; rows in any order with copies give the same buckets and the same hours.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.meterlink.meters.energy_hours import hourly_energy
from custom_components.meterlink.meters.errors import MeterError, MeterFrameError
from custom_components.meterlink.meters.push.status import PushNoDataError, PushQueryError
from custom_components.meterlink.meters.push.summary import (
    QUARTER_MS,
    SummaryQuery,
    interpret_summary,
    parse_rows,
    plan_queries,
    register_sample,
    reported_time,
    split_stat,
    summary_url,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = 1_790_000_000_000 // QUARTER_MS * QUARTER_MS
KEY = "MTAxMDoyMDIw"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
row_keys = st.sampled_from(
    [
        "Meter",
        "Start_Time_Stamp_UTC_ms",
        "End_Time_Stamp_UTC_ms",
        "Count",
        "kWh_Tot_Max",
        "kWh_Tot_Last",
        "kWh_Tot_Min",
        "kWh_Tot_Diff",
        "Rev_kWh_Tot_Max",
        "Rev_kWh_Tot_First",
        "RMS_Watts_Tot_Average",
        "Pulse_Cnt_1_DeltaMax",
        "_Max",
        "status_code",
        "message",
    ]
)


@SETTINGS
@given(
    status=st.sampled_from([200, 200, 200, 400, 401, 403, 404, 429, 500, 503]),
    body=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.lists(st.dictionaries(row_keys, json_values, max_size=12), max_size=8).map(
            lambda rows: json.dumps(rows).encode()
        ),
        st.sampled_from([b"Error: invalid", b"Error", b"There is not data for: 1"]),
    ),
    retry_after=st.one_of(st.none(), st.text(max_size=10)),
)
def test_any_answer_is_a_page_or_a_typed_error(
    status: int, body: bytes, retry_after: str | None
) -> None:
    try:
        page = interpret_summary(status, body, key=KEY, retry_after=retry_after, now=0.0)
    except MeterError as err:
        message = str(err)
    else:
        message = ""
        starts = [(b.meter, b.start_ms) for b in page.buckets]
        assert starts == sorted(set(starts))
    assert KEY not in message


@st.composite
def answers(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Realistic rows of two meters: monotonic registers, some quarters missing."""
    rows = []
    for meter in (300001001, 300001002):
        total, reverse = draw(st.integers(0, 10**8)), draw(st.integers(0, 10**6))
        for quarter in range(draw(st.integers(1, 30))):
            first_total, first_reverse = total, reverse
            reverse += draw(st.integers(0, 40))
            total += draw(st.integers(0, 300)) + reverse - first_reverse
            if draw(st.integers(0, 4)) == 0:
                continue  # a quarter the service lost
            as_text = draw(st.booleans())
            rows.append(
                {
                    "Meter": str(meter) if as_text else meter,
                    "Start_Time_Stamp_UTC_ms": START + quarter * QUARTER_MS,
                    "End_Time_Stamp_UTC_ms": START + (quarter + 1) * QUARTER_MS,
                    "Count": 15,
                    "kWh_Tot_First": first_total / 100,
                    "kWh_Tot_Max": total / 100,
                    "kWh_Tot_Diff": (total - first_total) / 100,
                    "Rev_kWh_Tot_Min": first_reverse / 100,
                    "Rev_kWh_Tot_Last": f"{reverse / 100}" if as_text else reverse / 100,
                }
            )
    return rows


@SETTINGS
@given(rows=answers(), seed=st.integers(0, 2**32), copies=st.integers(0, 5))
def test_any_order_and_copies_give_the_same_buckets_and_hours(
    rows: list[dict[str, Any]], seed: int, copies: int
) -> None:
    expected = parse_rows(rows)
    noisy = rows + rows[:copies]
    random.Random(seed).shuffle(noisy)
    page = interpret_summary(200, json.dumps(noisy).encode())
    assert list(page.buckets) == expected
    assert page.rows == len(noisy)
    for meter in {b.meter for b in expected}:
        own = [b for b in expected if b.meter == meter]
        shuffled = [b for b in page.buckets if b.meter == meter][::-1]
        energy = hourly_energy(register_sample(b) for b in shuffled)
        assert energy == hourly_energy(register_sample(b) for b in own)
        assert all(h.import_kwh >= 0 and h.export_kwh >= 0 for h in energy.hours)


def test_generic_field_names() -> None:
    assert split_stat("kWh_Tot_DeltaMax") == ("kWh_Tot", "DeltaMax")
    assert split_stat("RMS_Volts_Ln_1_Average") == ("RMS_Volts_Ln_1", "Average")
    assert split_stat("Pulse_Cnt_2_StdDev") == ("Pulse_Cnt_2", "StdDev")
    assert split_stat("Rev_kWh_Tot_Max") == ("Rev_kWh_Tot", "Max")
    assert split_stat("_Max") is None
    assert split_stat("Meter") is None
    bucket = parse_rows(
        [
            {
                "Meter": 10068,
                "Start_Time_Stamp_UTC_ms": START,
                "kWh_Tot_Min": 10.0,
                "kWh_Tot_Diff": 0.5,
                "Rev_kWh_Tot_Max": "2.5",
                "Rev_kWh_Tot_First": "2.25",
                "RMS_Watts_Tot_Average": "nan",
            }
        ]
    )[0]
    assert bucket.meter == "000000010068"
    assert bucket.end_ms == START + QUARTER_MS
    assert bucket.end_value("kWh_Tot") == 10.5
    assert bucket.start_value("Rev_kWh_Tot") == 2.25
    assert "RMS_Watts_Tot" not in bucket.stats  # one bad value costs that value
    assert register_sample(bucket).import_kwh == 8.0


@pytest.mark.parametrize(
    ("body", "first", "last"),
    [
        (
            '{"status_code": 1002, "message": "There is not data for: 300001001 This meter '
            'first reported on: 2026-10-11 12:07:30"}',
            1_791_720_450_000,
            None,
        ),
        (
            "There is not data for: 300001001 This meter last reported on: 202610111207",
            None,
            1_791_720_420_000,
        ),
        (
            '{"status_code": 1001, "message": "There is not data for: 1 between a and b"}',
            None,
            None,
        ),
    ],
)
def test_no_data_answers_are_empty_pages_with_the_reported_edge(
    body: str, first: int | None, last: int | None
) -> None:
    page = interpret_summary(200, body.encode())
    assert page.no_data
    assert page.buckets == ()
    assert (page.first_report_ms, page.last_report_ms) == (first, last)


def test_reported_dates_in_other_spellings() -> None:
    assert reported_time("on: 1791720450000") == 1_791_720_450_000
    assert reported_time("on: 10/11/2026 12:07") == 1_791_720_420_000
    assert reported_time("on: 2026-13-45") is None
    assert reported_time("never") is None


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, b"Error: Invalid parameter start_date", PushQueryError),
        (200, b"Error", PushQueryError),
        (200, b'{"status_code": 1004, "message": "Timezone is not supported"}', PushQueryError),
        (200, b'{"status_code": 1000, "message": "x"}', None),
        (200, b"<html>", MeterFrameError),
        (200, b'[{"Meter": 1', MeterFrameError),
        (200, b'{"rows": 3}', MeterFrameError),
        (200, b'{"status_code": 1099, "message": "new code"}', PushNoDataError),
    ],
)
def test_error_bodies(status: int, body: bytes, error: type[MeterError] | None) -> None:
    if error is None:
        assert interpret_summary(status, body).no_data
        return
    with pytest.raises(error):
        interpret_summary(status, body)


@SETTINGS
@given(
    meters=st.integers(1, 40),
    hours=st.integers(1, 24 * 400),
    limit=st.integers(20, 1000),
)
def test_plans_cover_the_range_within_the_limit(meters: int, hours: int, limit: int) -> None:
    names = [f"{300001000 + n:012d}" for n in range(meters)]
    end = START + hours * 3_600_000
    plan = plan_queries(names, START, end, limit=limit)
    for meter in names:
        windows = sorted((q.start_ms, q.end_ms) for q in plan if meter in q.meters)
        assert windows[0][0] == START
        assert windows[-1][1] == end
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(q.rows_expected() < limit for q in plan)


def test_the_url_names_meters_as_numbers_and_dates_in_the_zone() -> None:
    query = SummaryQuery(("000300001001", "000000010068"), START, START + QUARTER_MS)
    url = summary_url("https://summary.ekmpush.com/", KEY, query, timezone="America/New_York")
    assert url.startswith("https://summary.ekmpush.com/summary?meters=300001001~10068&key=")
    assert "&report=15&format=json&fields=kWh_Tot*~Rev_kWh_Tot*&limit=1000" in url
    assert "&timezone=America~New_York&start_date=202609210900&end_date=202609211115" in url
