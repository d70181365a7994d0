"""`meter egauge history --json` against the simulator: the hours equal the meter's truth.

The simulator integrates every register second by second and keeps what it imported and
exported (`SimEgauge.truth`), so each hour's truth is read by moving the clock hour by hour.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.meterlink.meters import cli
from custom_components.meterlink.meters.egauge.history import (
    chunks,
    power_registers,
    register_samples,
)
from custom_components.meterlink.meters.egauge.models import HistoryRow, Register, register_type
from custom_components.meterlink.meters.errors import InvalidParameterError
from simulator.egauge import EgaugeSimulator, SimEgauge, SimRegister

from .conftest import OWNER, OWNER_PASSWORD, FakeClock

H0 = 1_796_000_000 // 3600 * 3600  # an hour boundary in late 2026
HOURS = 5
RESOLUTION = 1 / 3.6e6  # one W·s, the quantum of a P register, in kWh


def grid(t: float) -> float:
    """Net power that changes sign every 20 minutes (import 1200 W, export 700 W)."""
    return 1200.0 if int(t) // 1200 % 2 == 0 else -700.0


def registers() -> list[SimRegister]:
    return [
        SimRegister("use", "P", formula=((1, "Grid"), (1, "Solar"))),
        SimRegister("Grid", "P", grid),
        SimRegister("Solar", "P", lambda t: 400.0 + 100.0 * (int(t) // 3600 % 3)),
        SimRegister("HVAC", "P", lambda _t: -850.0),
        SimRegister("L1 Voltage", "V", lambda _t: 120.0),
    ]


class Truth:
    """(imported, exported) kWh of each physical register at every hour boundary."""

    def __init__(self) -> None:
        self.at: dict[int, dict[str, tuple[float, float]]] = {}

    def record(self, meter: SimEgauge, when: int) -> None:
        self.at[when] = {r.name: meter.truth(r.name) for r in meter.physical if r.type == "P"}

    def hour(self, name: str, start: int) -> tuple[float, float]:
        before, after = self.at[start][name], self.at[start + 3600][name]
        return after[0] - before[0], after[1] - before[1]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(float(H0))


@pytest.fixture
def meter(clock: FakeClock) -> SimEgauge:
    return SimEgauge(clock=clock, prehistory=0, registers=registers())


@pytest.fixture
def truth(meter: SimEgauge, clock: FakeClock) -> Truth:
    """Run the meter HOURS hours, recording the truth at each boundary."""
    recorded = Truth()
    recorded.record(meter, H0)
    for hour in range(1, HOURS + 1):
        clock.now = float(H0 + hour * 3600)
        if hour == 3:  # mid hour 3 `db zero` restarts every counter (the history with them)
            clock.now -= 1800
            meter.zero()
            clock.now += 1800
        recorded.record(meter, H0 + hour * 3600)
    clock.advance(90)  # the meter is a little past the last hour
    return recorded


@pytest.fixture
async def sim(meter: SimEgauge) -> AsyncIterator[EgaugeSimulator]:
    simulator = EgaugeSimulator(meter)
    await simulator.start()
    yield simulator
    await simulator.stop()


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


async def _history(sim: EgaugeSimulator, *args: str, password: str = OWNER_PASSWORD) -> int:
    connection = ["--host", sim.host, "--http", "--user", OWNER, "--password", password]
    return await cli.async_main(["egauge", "history", *args, *connection])


async def _rows(
    sim: EgaugeSimulator, capsys: pytest.CaptureFixture[str], start: int, stop: int, step: int
) -> dict[str, list[dict[str, Any]]]:
    code = await _history(
        sim, "--from", _iso(start), "--to", _iso(stop), "--step", str(step), "--json"
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document: dict[str, list[dict[str, Any]]] = json.loads(captured.out)
    return document


async def test_minute_rows_equal_the_truth(
    sim: EgaugeSimulator, truth: Truth, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 min rows split the net register exactly; the rows add up; a reset is never negative."""
    document = await _rows(sim, capsys, H0, H0 + HOURS * 3600, 60)
    assert set(document) == {"use", "Grid", "Solar", "HVAC"}  # P registers only, virtual too
    for name in ("Grid", "Solar", "HVAC"):
        rows = document[name]
        assert [row["start"] for row in rows] == [_iso(H0 + h * 3600) for h in range(HOURS)]
        for hour, row in enumerate(rows):
            imported, exported = truth.hour(name, H0 + hour * 3600)
            assert row["import_kwh"] == pytest.approx(imported, abs=RESOLUTION)
            assert row["export_kwh"] == pytest.approx(exported, abs=RESOLUTION)
            assert row["import_kwh"] >= 0
            assert row["export_kwh"] >= 0
    grid_rows = document["Grid"]
    assert all(row["import_kwh"] > 0 and row["export_kwh"] > 0 for row in grid_rows)
    assert all(row["import_kwh"] == 0 for row in document["HVAC"])
    assert all(row["export_kwh"] == 0 for row in document["Solar"])
    # The totals only grow, and each row's energy is its total's change.
    for rows in document.values():
        for older, newer in pairwise(rows):
            for register in ("import", "export"):
                change = newer[f"{register}_total"] - older[f"{register}_total"]
                assert change == pytest.approx(newer[f"{register}_kwh"], abs=1e-6)
                assert change >= 0


async def test_hour_rows_net_each_step(
    sim: EgaugeSimulator, truth: Truth, capsys: pytest.CaptureFixture[str]
) -> None:
    """With 1 h rows a net register's hour is its net change, in the direction it moved."""
    document = await _rows(sim, capsys, H0, H0 + HOURS * 3600, 3600)
    for hour, row in enumerate(document["Grid"]):
        imported, exported = truth.hour("Grid", H0 + hour * 3600)
        net = imported - exported
        assert row["import_kwh"] == pytest.approx(max(net, 0), abs=RESOLUTION)
        assert row["export_kwh"] == pytest.approx(max(-net, 0), abs=RESOLUTION)


async def test_look_back_counts_the_first_hour(
    sim: EgaugeSimulator, truth: Truth, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first row's energy is counted from the row before --from, not from zero."""
    start = H0 + 1 * 3600
    document = await _rows(sim, capsys, start, start + 2 * 3600, 60)
    rows = document["Solar"]
    assert [row["start"] for row in rows] == [_iso(start), _iso(start + 3600)]
    assert rows[0]["import_kwh"] == pytest.approx(truth.hour("Solar", start)[0], abs=RESOLUTION)
    assert rows[0]["import_kwh"] > 0
    # A one-way register's import total is its kWh counter.
    assert rows[1]["import_total"] == pytest.approx(truth.at[start + 2 * 3600]["Solar"][0])
    assert await _history(sim, "--from", _iso(start), "--to", _iso(start + 2 * 3600)) == 0
    table = capsys.readouterr().out
    solar = sum(truth.hour("Solar", start + h * 3600)[0] for h in range(2))
    assert f"Solar: 2 hours, import {solar:.3f} kWh, export 0.000 kWh" in table


async def test_exit_codes_and_no_password(
    sim: EgaugeSimulator, truth: Truth, capsys: pytest.CaptureFixture[str]
) -> None:
    start, stop = _iso(H0), _iso(H0 + 3600)
    assert await _history(sim, "--from", start, "--to", stop, password="wrong-pass") == 6
    assert await _history(sim, "--from", stop, "--to", start) == 2
    assert await _history(sim, "--from", start, "--to", stop, "--step", "0") == 2
    await sim.stop()
    assert await _history(sim, "--from", start, "--to", stop, "--json") == 3
    captured = capsys.readouterr()
    for secret in ("wrong-pass", OWNER_PASSWORD):
        assert secret not in captured.out + captured.err
    assert "meter: credentials refused:" in captured.err
    assert "meter: cannot connect:" in captured.err


def test_chunks_cover_the_range_once() -> None:
    windows = chunks(0, 1000, 60, 5)
    times = [t for low, step, high in windows for t in range(int(low), int(high) + 1, int(step))]
    assert times == list(range(0, 1001, 60))
    with pytest.raises(InvalidParameterError):
        chunks(10, 0, 60, 5)


def test_a_counter_reset_counts_nothing() -> None:
    """A counter that jumps back to zero (a reset between rows) is neither import nor export."""
    counters = [10**10, 10**10 + 60_000, 0, 60_000]
    rows = [HistoryRow(float(60 * i), {"Grid": value}) for i, value in enumerate(counters)]
    last = register_samples(rows, POWER)[-1]
    assert last.import_kwh == pytest.approx((10**10 + 120_000) / 3.6e6)
    assert last.export_kwh == 0


POWER = Register("Grid", register_type("P"), 0, 0)


@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=40))
def test_samples_never_go_down(counters: list[int]) -> None:
    """Any counters (wraps, resets, sign changes): import and export totals never decrease."""
    rows = [HistoryRow(float(60 * i), {"Grid": value}) for i, value in enumerate(counters)]
    samples = register_samples(reversed(rows), POWER)
    assert len(samples) == len(counters)
    for older, newer in pairwise(samples):
        assert (newer.import_kwh or 0) >= (older.import_kwh or 0)
        assert (newer.export_kwh or 0) >= (older.export_kwh or 0)
        assert newer.import_kwh is not None
        assert newer.export_kwh is not None
    assert power_registers([POWER, Register("V", register_type("V"), 1, 1)]) == [POWER]
