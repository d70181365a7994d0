"""Import/export of net registers from the meter's history, against the simulator's truth."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.meterlink.meters.egauge import energy, protocol
from custom_components.meterlink.meters.egauge.client import EgaugeClient
from custom_components.meterlink.meters.egauge.energy import Direction, SplitState
from custom_components.meterlink.meters.egauge.models import (
    EpochMismatch,
    HistoryRow,
    Register,
    counter_delta,
    register_type,
)
from simulator.egauge import SimEgauge

from .conftest import FakeClock

KWH = 3.6e6


async def test_net_register_split_equals_the_meters_truth(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    state = SplitState()
    first = await client.poll(None)
    assert not isinstance(first, EpochMismatch)
    registers = [v.register for v in first[0].values.values() if v.register.type.code == "P"]
    state = energy.split(state, first[1].rows, registers)
    start = meter.truth("Grid")
    signs = set()
    for _ in range(240):  # two hours at 30 s: the sun comes and goes eight times
        clock.advance(30)
        answer = await client.poll(state.ts)
        assert not isinstance(answer, EpochMismatch)
        reading, history = answer
        signs.add((reading.values["Grid"].rate or 0) > 0)
        before = state.totals.get("Grid", energy.NetEnergy())
        state = energy.split(state, history.rows, registers)
        after = state.totals["Grid"]
        assert after.imported >= before.imported
        assert after.exported >= before.exported
    end = meter.truth("Grid")
    grid = state.totals["Grid"]
    assert signs == {True, False}
    assert grid.imported / KWH == pytest.approx(end[0] - start[0], abs=0.001)
    assert grid.exported / KWH == pytest.approx(end[1] - start[1], abs=0.001)
    assert grid.exported > 0
    assert grid.imported > 0
    assert state.resets == 0
    hvac = state.totals["HVAC"]  # wired negative: all "export"
    assert hvac.imported == 0
    assert hvac.exported > 0


async def test_a_long_gap_is_caught_up_from_minute_rows(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    first = await client.poll(None)
    assert not isinstance(first, EpochMismatch)
    registers = [v.register for v in first[0].values.values() if v.register.type.code == "P"]
    state = energy.split(SplitState(), first[1].rows, registers)
    counter_before = state.counters["Grid"]
    clock.advance(3 * 3600)  # Home Assistant was down for three hours
    answer = await client.poll(state.ts)
    assert not isinstance(answer, EpochMismatch)
    state = energy.split(state, answer[1].rows, registers)
    steps = sorted(
        {round(b.ts - a.ts) for a, b in zip(answer[1].rows[1:], answer[1].rows, strict=False)}
    )
    assert steps == [1, 60]  # 1 s rows for the last hour, 1 min rows before
    grid = state.totals["Grid"]
    # Whatever the resolution, nothing is lost: import minus export is the counter's change.
    assert grid.imported - grid.exported == counter_delta(state.counters["Grid"], counter_before)


async def test_epoch_move_and_db_zero_are_resets_not_energy(
    client: EgaugeClient, meter: SimEgauge, clock: FakeClock
) -> None:
    epoch = await client.epoch()
    first = await client.poll(None, epoch=epoch)
    assert not isinstance(first, EpochMismatch)
    registers = [v.register for v in first[0].values.values() if v.register.type.code == "P"]
    state = energy.split(SplitState(), first[1].rows, registers)
    clock.advance(30)
    meter.zero()  # db zero: the counters fall to zero, the epoch stays
    clock.advance(30)
    answer = await client.poll(state.ts, epoch=epoch)
    assert not isinstance(answer, EpochMismatch)
    before = state.totals.get("Solar", energy.NetEnergy())
    state = energy.split(state, answer[1].rows, registers)
    assert state.resets >= 1
    assert state.totals["Grid"].exported < 60 * 10_000  # at most a minute of real export
    assert state.totals.get("Solar", energy.NetEnergy()).exported == before.exported
    meter.move_epoch()
    clock.advance(30)
    moved = await client.poll(state.ts, epoch=epoch)
    assert isinstance(moved, EpochMismatch)
    rebased = energy.rebase(state)
    assert rebased.totals == state.totals
    assert rebased.counters == {}
    answer = await client.poll(state.ts, epoch=moved.current)
    assert not isinstance(answer, EpochMismatch)
    after = energy.split(rebased, answer[1].rows, registers)
    assert after.totals["Grid"].imported >= state.totals["Grid"].imported


def test_catch_up_ranges() -> None:
    now = energy.NOW
    assert energy.catch_up_ranges(None, 1000.5) == []
    assert energy.catch_up_ranges(970, 1000.5) == [(970, 1, now)]
    estimate = 100_000.0
    (seconds, minutes) = energy.catch_up_ranges(estimate - 7200, estimate)
    assert seconds[1] == 1
    assert minutes[1] == 60
    assert minutes[2] == seconds[0]
    assert minutes[0] <= estimate - 7200
    assert estimate - seconds[0] < energy.SECOND_ROWS_SPAN
    assert seconds[2] == now
    _, far = energy.catch_up_ranges(estimate - 30 * 86400, estimate)
    assert far[2] - far[0] == energy.MINUTE_ROWS_SPAN
    query = protocol.poll_query(None, [(970, 1, now)])
    assert query["time"] == "970:1:now"


def _rows(values: list[int], name: str = "r") -> list[HistoryRow]:
    return [HistoryRow(float(t), {name: v}) for t, v in enumerate(values)]


@given(
    st.lists(st.integers(-5000, 5000), min_size=1, max_size=40), st.integers(-(2**63), 2**63 - 1)
)
def test_split_conserves_the_net_change_and_never_decreases(steps: list[int], start: int) -> None:
    values = [start]
    for step in steps:
        values.append((values[-1] + step + 2**63) % 2**64 - 2**63)  # int64 wrap included
    register = Register("r", register_type("P"), 0, 0)
    state = energy.split(SplitState(), _rows(values), [register])
    total = state.totals.get("r", energy.NetEnergy())
    assert total.imported - total.exported == sum(steps)
    assert total.imported == sum(s for s in steps if s > 0)
    again = energy.split(state, _rows(values), [register])  # the same rows again: nothing new
    assert again.totals == state.totals


def test_directions() -> None:
    assert energy.direction(_rows([1, 2, 3]), "r") is Direction.UP
    assert energy.direction(_rows([3, 2, 1]), "r") is Direction.DOWN
    assert energy.direction(_rows([1, 3, 2]), "r") is Direction.BOTH
    assert energy.direction(_rows([1, 1]), "r") is Direction.FLAT
    assert energy.direction(_rows([1, 2]), "other") is Direction.FLAT


def test_missing_cells_continue_from_the_last_counter() -> None:
    register = Register("r", register_type("P"), 0, 0)
    rows = [HistoryRow(0.0, {"r": 10}), HistoryRow(1.0, {}), HistoryRow(2.0, {"r": 14})]
    state = energy.split(SplitState(), rows, [register])
    assert state.totals["r"].imported == 4
