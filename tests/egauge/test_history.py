"""eGauge register history into the recorder's long-term statistics, against the simulator.

The real recorder (`recorder_mock` before `hass`) stores what the importer writes. The
simulator integrates every register second by second and keeps what it imported and exported,
so each hour's truth is read by moving its clock hour by hour; every stored hour's sum and
state must equal that truth, on the first run, a second run and after a restart.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.statistics import get_metadata
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

from custom_components.meterlink.egauge.history import EgaugeHistoryImporter, statistic_id
from custom_components.meterlink.meters.egauge import EgaugeClient
from custom_components.meterlink.meters.energy_hours import Register
from simulator.egauge import EgaugeSimulator, SimEgauge

from ..conftest import setup_entry
from ..meters.egauge.test_history import registers
from ..push.statistics_rows import hourly_rows
from .conftest import OWNER, OWNER_PASSWORD, SERIAL, EntryBuilder, MeterClock

pytestmark = pytest.mark.usefixtures("socket_enabled")
T0 = (int(time.time()) // 3600 - 9) * 3600  # an hour boundary nine hours ago
HOURS = 6
POWER = ("Grid", "Solar", "HVAC")


@pytest.fixture
def mock_recorder_before_hass(async_setup_recorder_instance: RecorderInstanceGenerator) -> None:
    """The recorder's fixtures before `hass` (autouse fixtures ask for `hass` early)."""


@pytest.fixture(name="meter")
def sim_meter(meter_clock: MeterClock) -> SimEgauge:
    """The conftest's simulated meter, with three hours of history already kept."""
    return SimEgauge(clock=meter_clock, reboot_seconds=60.0, prehistory=3 * 3600)


class Meter:
    """The simulated meter, its clock and the truth at every hour boundary it passed."""

    def __init__(self) -> None:
        self.now = float(T0)
        self.sim = SimEgauge(clock=lambda: self.now, prehistory=0, registers=registers())
        self.truth: dict[int, dict[str, tuple[float, float]]] = {}
        self.record()

    def record(self) -> None:
        self.truth[int(self.now)] = {name: self.sim.truth(name) for name in POWER}

    def run_to(self, hours: int) -> None:
        """Run to `hours` after T0 and 25 minutes on (that hour has settled)."""
        self.now = max(self.now - self.now % 3600, float(T0))
        while self.now < T0 + hours * 3600:
            self.now += 3600
            self.record()
        self.now += 25 * 60

    def utcnow(self) -> datetime:
        return dt_util.utc_from_timestamp(self.now)


@pytest.fixture
async def own_meter() -> AsyncIterator[tuple[Meter, EgaugeClient]]:
    state = Meter()
    state.run_to(HOURS)
    simulator = EgaugeSimulator(state.sim)
    await simulator.start()
    async with aiohttp.ClientSession() as session:
        client = EgaugeClient(session, simulator.host, OWNER, OWNER_PASSWORD, https=False)
        yield state, client
    await simulator.stop()


def importer(hass: HomeAssistant, state: Meter, client: EgaugeClient) -> EgaugeHistoryImporter:
    return EgaugeHistoryImporter(hass, client, SERIAL, lambda: "eGauge42", now=state.utcnow)


async def assert_truth(hass: HomeAssistant, state: Meter) -> None:
    """Every closed hour is stored, with sums and states that run as the truth does."""
    closed = [t for t in sorted(state.truth) if t + 3600 in state.truth]
    for name in POWER:
        for index, register in enumerate(Register):
            rows = await hourly_rows(
                hass, statistic_id(SERIAL, name, register), dt_util.utc_from_timestamp(T0 - 86400)
            )
            assert [int(row["start"]) for row in rows] == closed, (name, register)
            for row, start in zip(rows, closed, strict=True):
                truth = state.truth[start + 3600][name][index] - state.truth[T0][name][index]
                assert row["sum"] == pytest.approx(truth, abs=1e-6), (name, register, start)
                assert row["state"] == pytest.approx(truth, abs=1e-6)


async def test_first_run_equals_the_truth(
    recorder_mock: Recorder, hass: HomeAssistant, own_meter: tuple[Meter, EgaugeClient]
) -> None:
    state, client = own_meter
    history = importer(hass, state, client)
    await history.async_sync()
    assert history.last_error is None
    await assert_truth(hass, state)
    assert history.hours_written == HOURS * 4  # Grid, Solar, HVAC and the virtual `use`
    ident = statistic_id(SERIAL, "Grid", Register.IMPORT)
    assert ident == "meterlink:egauge_g10400_grid_energy_import"
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={ident})
    )
    ((_, meta),) = metadata.values()
    assert meta["source"] == "meterlink"
    assert meta["unit_of_measurement"] == "kWh"
    assert meta["unit_class"] == "energy"
    assert meta["has_sum"] is True
    assert meta["mean_type"] == 0
    assert meta["name"] == "eGauge42 Grid energy import (eGauge history)"
    grid_rows = await hourly_rows(
        hass,
        statistic_id(SERIAL, "Grid", Register.EXPORT),
        dt_util.utc_from_timestamp(T0 - 86400),
    )
    assert grid_rows[-1]["sum"] > 0  # the net register exported too


async def test_second_run_appends_and_a_restart_resumes(
    recorder_mock: Recorder, hass: HomeAssistant, own_meter: tuple[Meter, EgaugeClient]
) -> None:
    state, client = own_meter
    history = importer(hass, state, client)
    await history.async_sync()
    since = dt_util.utc_from_timestamp(T0 - 86400)
    ident = statistic_id(SERIAL, "Grid", Register.IMPORT)
    before = await hourly_rows(hass, ident, since)
    await history.async_sync()  # nothing closed since: nothing changes
    assert await hourly_rows(hass, ident, since) == before
    state.run_to(HOURS + 2)
    await history.async_sync()
    after = await hourly_rows(hass, ident, since)
    assert len(after) == len(before) + 2
    assert after[: len(before)] == before
    await assert_truth(hass, state)
    # A restart: a new importer continues from the stored rows, no sum starts over.
    state.run_to(HOURS + 3)
    restarted = importer(hass, state, client)
    await restarted.async_sync()
    assert restarted.hours_written == 4  # one hour of each power register
    await assert_truth(hass, state)


async def test_off_without_the_recorder(hass: HomeAssistant) -> None:
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.meterlink.egauge.history import async_start_egauge_history

    entry = MockConfigEntry(domain="meterlink")
    entry.add_to_hass(hass)
    unused: Any = None
    assert async_start_egauge_history(hass, entry, unused, SERIAL, lambda: "x") is None


def test_ids_are_valid_statistic_ids() -> None:
    from homeassistant.components.recorder.statistics import valid_statistic_id

    for name in ("Grid", "use", "L1 Solar (east)"):
        for register in Register:
            assert valid_statistic_id(statistic_id(SERIAL, name, register))


async def test_an_entry_imports_in_the_background_and_off_clears(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    make_egauge_entry: EntryBuilder,
    meter_clock: MeterClock,
) -> None:
    """Set up through the config entry: the backfill runs by itself; the option off clears it."""
    entry = await setup_entry(hass, make_egauge_entry())
    await hass.async_block_till_done(wait_background_tasks=True)
    ident = statistic_id(SERIAL, "Solar", Register.IMPORT)
    since = dt_util.utc_from_timestamp(meter_clock.now - 86400)
    rows = await hourly_rows(hass, ident, since)
    assert rows  # three hours of prehistory: at least two closed hours
    assert all(row["sum"] >= 0 for row in rows)
    diagnostics = entry.runtime_data.diagnostics()["history"]
    assert diagnostics["hours_written"] >= len(rows)
    assert diagnostics["last_error"] is None
    hass.config_entries.async_update_entry(entry, options={**entry.options, "history": "off"})
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await hourly_rows(hass, ident, since) == []
    assert entry.runtime_data.history is None
