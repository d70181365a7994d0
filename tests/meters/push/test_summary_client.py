"""SummaryClient against the Push simulator's /summary over a real socket.

The hours must equal the simulator's truth (its read times and register function) whatever
the service does: missing quarters, newest-first rows, full pages, string values, a first
report inside the range, 429s, refusals.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

import pytest

from custom_components.meterlink.meters.energy_hours import Register
from custom_components.meterlink.meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterRateLimitError,
    MeterServerError,
)
from custom_components.meterlink.meters.push.status import PushInvalidMeterError, PushQueryError
from custom_components.meterlink.meters.push.summary import from_ms
from custom_components.meterlink.meters.push.summary_client import MeterHistory, SummaryClient

from .summary_truth import (
    FIRST_REPORT,
    HOUR_MS,
    METER_A,
    METER_B,
    NOW,
    SummarySetup,
    TruthHour,
    summary_sim,
    truth_hours,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")
__all__ = ["summary_sim"]


def client(setup: SummarySetup, **options: object) -> SummaryClient:
    return SummaryClient(
        setup.session,
        setup.cloud.account_key,
        summary_url=setup.url,
        min_interval=0,
        **options,  # type: ignore[arg-type]
    )


def as_truth(history: MeterHistory) -> list[TruthHour]:
    return [
        TruthHour(from_ms(h.start_ms), h.import_kwh, h.export_kwh, h.import_total, h.export_total)
        for h in history.energy.hours
    ]


def assert_truth(actual: list[TruthHour], expected: list[TruthHour]) -> None:
    assert [h.start for h in actual] == [h.start for h in expected]
    for got, want in zip(actual, expected, strict=True):
        assert asdict(got) == pytest.approx(asdict(want), abs=1e-6), got.start


async def test_three_days_of_two_meters_in_one_request(summary_sim: SummarySetup) -> None:
    start, end = NOW - timedelta(days=3), NOW
    summary = client(summary_sim)
    histories, result = await summary.history([METER_A, METER_B], start, end)
    assert summary.requests_sent == 1
    assert not result.refused
    for meter in (METER_A, METER_B):
        expected = truth_hours(summary_sim.service, meter, start, end)
        assert len(expected) == 3 * 24 + 1  # the hour in progress has reads too
        assert_truth(as_truth(histories[meter]), expected)
        first = expected[0]
        assert histories[meter].energy.hours[0].import_kwh == pytest.approx(first.import_kwh)
        assert first.import_kwh > 0
        assert first.export_kwh > 0


async def test_a_month_is_cut_into_windows_that_fit_the_limit(summary_sim: SummarySetup) -> None:
    start, end = NOW - timedelta(days=30), NOW - timedelta(days=1)
    summary = client(summary_sim)
    histories, _ = await summary.history([METER_A, METER_B], start, end)
    # 29 days = 2784 quarters per meter: 3 windows of <= 1000 rows each.
    assert summary.requests_sent == 6
    assert all(rows <= 1000 for _, _, rows in summary_sim.service.served)
    for meter in (METER_A, METER_B):
        assert_truth(
            as_truth(histories[meter]), truth_hours(summary_sim.service, meter, start, end)
        )


async def test_the_hours_add_up_to_the_register_change(summary_sim: SummarySetup) -> None:
    start, end = NOW - timedelta(days=2), NOW - timedelta(hours=5)
    histories, _ = await client(summary_sim).history([METER_A], start, end)
    history = histories[METER_A]
    assert history.baseline is not None
    hours = history.energy.hours
    assert sum(h.import_kwh for h in hours) == pytest.approx(
        hours[-1].import_total - (history.baseline.import_kwh or 0), abs=1e-6
    )
    assert sum(h.export_kwh for h in hours) == pytest.approx(
        hours[-1].export_total - (history.baseline.export_kwh or 0), abs=1e-6
    )


async def test_missing_quarters_move_their_energy_to_the_next_hour_with_data(
    summary_sim: SummarySetup,
) -> None:
    start, end = NOW - timedelta(days=1), NOW - timedelta(hours=1)
    complete, _ = await client(summary_sim).history([METER_A], start, end)
    lost_hour = (int(start.timestamp() * 1000) // HOUR_MS + 5) * HOUR_MS
    # A whole hour and the last quarter of the hour after it.
    summary_sim.service.faults.drop_quarters(
        [lost_hour + q * 900_000 for q in range(4)] + [lost_hour + HOUR_MS + 2_700_000]
    )
    gappy, _ = await client(summary_sim).history([METER_A], start, end)
    expected = truth_hours(summary_sim.service, METER_A, start, end)
    assert_truth(as_truth(gappy[METER_A]), expected)
    full, holey = complete[METER_A].energy.hours, gappy[METER_A].energy.hours
    assert len(holey) == len(full) - 1
    assert lost_hour not in {h.start_ms for h in holey}
    # Nothing lost, nothing invented: the same total, the same end registers.
    assert sum(h.import_kwh for h in holey) == pytest.approx(sum(h.import_kwh for h in full))
    assert holey[-1].import_total == full[-1].import_total
    next_hour = next(h for h in holey if h.start_ms == lost_hour + HOUR_MS)
    full_next = next(h for h in full if h.start_ms == lost_hour + HOUR_MS)
    assert next_hour.import_kwh < full_next.import_kwh + sum(
        h.import_kwh for h in full if h.start_ms == lost_hour
    )
    after = next(h for h in holey if h.start_ms == lost_hour + 2 * HOUR_MS)
    assert (
        after.import_kwh > next(h for h in full if h.start_ms == lost_hour + 2 * HOUR_MS).import_kwh
    )


@pytest.mark.parametrize("strings", [False, True])
async def test_newest_first_and_string_values_give_the_same_hours(
    summary_sim: SummarySetup, strings: bool
) -> None:
    start, end = NOW - timedelta(days=12), NOW
    baseline, _ = await client(summary_sim).history([METER_A, METER_B], start, end)
    summary_sim.service.faults.newest_first = True
    summary_sim.service.faults.values_as_strings = strings
    reordered, _ = await client(summary_sim).history([METER_A, METER_B], start, end)
    assert reordered == baseline


async def test_full_pages_are_split_until_nothing_is_cut_off(summary_sim: SummarySetup) -> None:
    start, end = NOW - timedelta(days=2), NOW
    summary_sim.service.faults.newest_first = True  # the oldest rows fall off a full page
    summary = client(summary_sim, limit=40)
    histories, _ = await summary.history([METER_A, METER_B], start, end)
    for meter in (METER_A, METER_B):
        assert_truth(
            as_truth(histories[meter]), truth_hours(summary_sim.service, meter, start, end)
        )
    assert all(rows < 40 for status, _, rows in summary_sim.service.served if status == 200)


async def test_a_meter_that_first_reported_in_the_range(summary_sim: SummarySetup) -> None:
    start = FIRST_REPORT - timedelta(days=60)
    end = FIRST_REPORT + timedelta(days=2)
    summary = client(summary_sim)
    histories, result = await summary.history([METER_A], start, end)
    expected = truth_hours(summary_sim.service, METER_A, start, end)
    assert expected[0].start == FIRST_REPORT.replace(minute=0, second=0, microsecond=0)
    assert_truth(as_truth(histories[METER_A]), expected)
    assert histories[METER_A].baseline is None
    assert result.first_report_ms[METER_A] == int(FIRST_REPORT.timestamp()) * 1000
    # The first window says "first reported on": the windows before it are never asked.
    assert summary.requests_sent <= 4


async def test_a_range_after_the_last_report_is_empty(summary_sim: SummarySetup) -> None:
    summary = client(summary_sim)
    result = await summary.buckets([METER_A], NOW + timedelta(days=1), NOW + timedelta(days=2))
    assert result.buckets == {}
    assert result.last_report_ms[METER_A] <= int(NOW.timestamp() * 1000)


async def test_a_gap_before_the_range_is_looked_past(summary_sim: SummarySetup) -> None:
    start, end = NOW - timedelta(days=2), NOW - timedelta(days=1)
    gap = range(int((start - timedelta(days=15)).timestamp() * 1000), int(start.timestamp() * 1000))
    summary_sim.service.faults.hidden = lambda _meter, ms: ms in gap
    summary = client(summary_sim)
    histories, _ = await summary.history([METER_A], start, end)
    expected = truth_hours(summary_sim.service, METER_A, start, end)
    assert_truth(as_truth(histories[METER_A]), expected)
    assert expected[0].import_kwh > 10  # fifteen days of energy in the first hour


async def test_a_meter_swap_is_a_new_baseline_never_a_negative_hour(
    summary_sim: SummarySetup,
) -> None:
    swap = NOW - timedelta(hours=30, minutes=20)
    summary_sim.service.histories[METER_B].swap_at_ms = int(swap.timestamp() * 1000)
    histories, _ = await client(summary_sim).history(
        [METER_B], NOW - timedelta(days=2), NOW - timedelta(days=1)
    )
    energy = histories[METER_B].energy
    assert all(h.import_kwh >= 0 and h.export_kwh >= 0 for h in energy.hours)
    resets = [d for d in energy.drops if d.reset]
    assert {d.register for d in resets} == {Register.IMPORT, Register.EXPORT}
    assert all(d.after < 10 < d.before for d in resets)


async def test_a_429_is_waited_out(summary_sim: SummarySetup) -> None:
    faults = summary_sim.service.faults
    faults.http_status, faults.retry_after, faults.times = 429, "0", 2
    summary = client(summary_sim)
    histories, _ = await summary.history([METER_A], NOW - timedelta(hours=6), NOW)
    assert histories[METER_A].energy.hours
    assert summary.requests_sent == 3


async def test_a_long_429_is_raised_with_its_wait(summary_sim: SummarySetup) -> None:
    faults = summary_sim.service.faults
    faults.http_status, faults.retry_after = 429, "600"
    with pytest.raises(MeterRateLimitError) as caught:
        await client(summary_sim, max_wait=30).buckets([METER_A], NOW - timedelta(hours=2), NOW)
    assert caught.value.retry_after == 600


async def test_requests_are_paced() -> None:
    import aiohttp

    from simulator.ekm.meter import SimMeter
    from simulator.ekm.push_cloud import PushSimulator
    from simulator.ekm.push_summary import attach_summary

    clock = [1000.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    cloud = PushSimulator([SimMeter(METER_A)], auto_poll=False, clock=NOW.timestamp)
    attach_summary(cloud, first_report=FIRST_REPORT)
    await cloud.start()
    try:
        async with aiohttp.ClientSession() as session:
            summary = SummaryClient(
                session,
                cloud.account_key,
                summary_url=cloud.base_url,
                min_interval=2.0,
                clock=lambda: clock[0],
                sleep=sleep,
            )
            await summary.buckets([METER_A], NOW - timedelta(days=30), NOW)
    finally:
        await cloud.stop()
    assert summary.requests_sent == 3
    assert waits == [2.0, 2.0]


@pytest.mark.parametrize(
    ("staging", "error"),
    [
        ({"error_text": "Error: unknown field kWh_Tot*"}, PushQueryError),
        ({"api_code": 1100}, PushQueryError),
        ({"api_code": 1004}, PushQueryError),
        ({"api_code": 1300}, MeterServerError),
        ({"http_status": 503}, MeterServerError),
        ({"http_status": 403}, MeterAuthError),
    ],
)
async def test_refusals_are_typed_errors(
    summary_sim: SummarySetup, staging: dict[str, object], error: type[Exception]
) -> None:
    for name, value in staging.items():
        setattr(summary_sim.service.faults, name, value)
    with pytest.raises(error) as caught:
        await client(summary_sim).buckets([METER_A], NOW - timedelta(hours=2), NOW)
    assert summary_sim.cloud.account_key not in str(caught.value)


async def test_a_wrong_key_is_refused(summary_sim: SummarySetup) -> None:
    summary = SummaryClient(summary_sim.session, "bm90LWEta2V5", summary_url=summary_sim.url)
    with pytest.raises(MeterAuthError):
        await summary.buckets([METER_A], NOW - timedelta(hours=2), NOW)


async def test_a_meter_not_on_the_key_is_set_aside(summary_sim: SummarySetup) -> None:
    stranger = "000300009999"
    start = NOW - timedelta(hours=3)
    summary = client(summary_sim)
    result = await summary.buckets([METER_A, stranger, METER_B], start, NOW)
    assert set(result.refused) == {stranger}
    assert set(result.buckets) == {METER_A, METER_B}
    assert summary_sim.cloud.account_key not in result.refused[stranger]
    with pytest.raises(PushInvalidMeterError):
        await summary.buckets([METER_A, stranger], start, NOW, isolate=False)


async def test_bad_input_is_refused_before_sending(summary_sim: SummarySetup) -> None:
    with pytest.raises(InvalidParameterError):
        client(summary_sim, timezone="Mars/Olympus_Mons")
    with pytest.raises(InvalidParameterError):
        await client(summary_sim).buckets(["not-a-meter"], NOW - timedelta(hours=1), NOW)
    with pytest.raises(InvalidParameterError):
        await client(summary_sim).buckets([METER_A], datetime(2026, 1, 1), NOW)
    assert summary_sim.service.served == []
