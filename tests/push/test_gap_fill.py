"""Gap fill of a live energy sensor's statistics after an outage, with the real recorder.

The sensor's states follow the simulator's import register; Home Assistant is "down" for three
hours (no states, the periods still compiled, as after a restart). The summary then gives
those flat hours their energy, the restart hour keeps its sum, and the total stays the same.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

from custom_components.meterlink.meters.energy_hours import Register
from custom_components.meterlink.meters.push.summary_client import SummaryClient
from custom_components.meterlink.push.gap_fill import (
    SensorHour,
    async_fill_gaps,
    energy_by_hour,
    plan_fills,
)
from custom_components.meterlink.push.history import HistoryImporter

from ..meters.push.summary_truth import METER_A, NOW, SummarySetup, summary_sim
from .statistics_rows import hourly_rows

__all__ = ["summary_sim"]
pytestmark = pytest.mark.usefixtures("socket_enabled")
ENTITY = "sensor.garage_energy_import"
ATTRIBUTES = {
    "device_class": "energy",
    "state_class": "total_increasing",
    "unit_of_measurement": "kWh",
}
START = (NOW - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
DOWN = range(3, 6)  # hours 3, 4 and 5 after START


@pytest.fixture
def mock_recorder_before_hass(async_setup_recorder_instance: RecorderInstanceGenerator) -> None:
    """The recorder's fixtures before `hass` (autouse fixtures ask for `hass` early)."""


async def live_sensor(
    hass: HomeAssistant, setup: SummarySetup, hours: int, *, extra_periods: int = 0
) -> None:
    """States every 5 minutes except while "down", and every 5-minute period compiled."""
    assert await async_setup_component(hass, "sensor", {})
    for period in range(hours * 12 + extra_periods):
        begins = START + timedelta(minutes=5 * period)
        if period // 12 not in DOWN:
            at = begins + timedelta(minutes=1)
            value = setup.service.registers_at(METER_A, int(at.timestamp() * 1000))[0]
            hass.states.async_set(ENTITY, str(value), ATTRIBUTES, timestamp=at.timestamp())
        await async_wait_recording_done(hass)
        do_adhoc_statistics(hass, start=begins)
    await async_wait_recording_done(hass)


async def hourly(hass: HomeAssistant) -> list[dict[str, Any]]:
    return await hourly_rows(hass, ENTITY, START - timedelta(hours=1))


def changes(rows: list[dict[str, Any]]) -> dict[datetime, float]:
    return {
        dt_util.utc_from_timestamp(b["start"]): b["sum"] - a["sum"]
        for a, b in itertools.pairwise(rows)
    }


async def summary_energy(setup: SummarySetup) -> dict[int, float]:
    client = SummaryClient(setup.session, setup.cloud.account_key, summary_url=setup.url)
    histories, _ = await client.history([METER_A], START - timedelta(hours=1), NOW)
    return energy_by_hour(histories[METER_A].energy.hours, Register.IMPORT)


async def test_an_outage_is_filled_and_the_total_is_unchanged(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup
) -> None:
    await live_sensor(hass, summary_sim, hours=8)
    before = await hourly(hass)
    flat = changes(before)
    outage = [START + timedelta(hours=h) for h in DOWN]
    restart = START + timedelta(hours=DOWN[-1] + 1)
    assert [flat[hour] for hour in outage] == [0.0, 0.0, 0.0]
    assert flat[restart] > 3  # everything of the outage in one hour
    energy = await summary_energy(summary_sim)

    fills = await async_fill_gaps(hass, ENTITY, energy, START - timedelta(hours=1))

    assert len(fills) == 1
    assert [dt_util.utc_from_timestamp(r[0] / 1000) for r in fills[0].rows] == outage
    assert fills[0].scale == 1.0
    after = await hourly(hass)
    filled = changes(after)
    for hour in outage:
        assert filled[hour] == pytest.approx(energy[int(hour.timestamp() * 1000)], abs=1e-6)
    assert 0 <= filled[restart] < 1.5  # the restart hour keeps only its own energy
    assert all(change >= 0 for change in filled.values())
    assert after[-1]["sum"] == pytest.approx(before[-1]["sum"])  # the total is unchanged
    untouched = [r for r in after if dt_util.utc_from_timestamp(r["start"]) >= restart]
    assert untouched == [r for r in before if dt_util.utc_from_timestamp(r["start"]) >= restart]
    # Once filled the hours are no longer flat: a second run changes nothing.
    assert await async_fill_gaps(hass, ENTITY, energy, START - timedelta(hours=1)) == []


async def test_an_uncompiled_restart_hour_is_never_touched(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup
) -> None:
    await live_sensor(hass, summary_sim, hours=DOWN[-1] + 1, extra_periods=6)
    before = await hourly(hass)
    assert dt_util.utc_from_timestamp(before[-1]["start"]) == START + timedelta(hours=DOWN[-1])
    energy = await summary_energy(summary_sim)
    assert await async_fill_gaps(hass, ENTITY, energy, START - timedelta(hours=1)) == []
    assert await hourly(hass) == before


async def test_a_sensor_without_statistics_is_left_alone(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    assert await async_fill_gaps(hass, "sensor.nothing", {0: 1.0}, START) == []


def test_the_fill_is_scaled_down_when_the_sensor_saw_less() -> None:
    hour = 3_600_000
    sensor = [
        SensorHour(0, 100.0, 10.0),
        SensorHour(hour, 100.0, 10.0),
        SensorHour(2 * hour, 100.0, 10.0),
        SensorHour(3 * hour, 103.0, 13.0),  # the restart hour: 3 kWh
        SensorHour(5 * hour, 104.0, 14.0),  # not consecutive: no run ends here
        SensorHour(6 * hour, 104.0, 14.0),
    ]
    (fill,) = plan_fills(sensor, {hour: 2.0, 2 * hour: 4.0, 6 * hour: 1.0})
    assert fill.scale == pytest.approx(0.5)
    assert fill.rows == ((hour, 101.0, 11.0), (2 * hour, 103.0, 13.0))
    assert fill.restart_hour_ms == 3 * hour
    # No energy in the summary, or nothing after the run: nothing to fill.
    assert plan_fills(sensor, {}) == []
    assert plan_fills(sensor[:3], {hour: 2.0}) == []


async def test_the_history_run_fills_the_live_sensor(
    recorder_mock: Recorder, hass: HomeAssistant, summary_sim: SummarySetup
) -> None:
    await live_sensor(hass, summary_sim, hours=8)
    before = await hourly(hass)
    client = SummaryClient(
        summary_sim.session, summary_sim.cloud.account_key, summary_url=summary_sim.url
    )
    history = HistoryImporter(
        hass,
        client,
        {METER_A: "Garage"},
        now=lambda: NOW,
        live_sensors=lambda address: {Register.IMPORT: ENTITY} if address == METER_A else {},
    )
    await history.async_sync()
    (fill,) = history.diagnostics()["meters"][METER_A]["gap_fills"]
    assert fill["entity_id"] == ENTITY
    assert fill["hours"] == [(START + timedelta(hours=h)).isoformat() for h in DOWN]
    after = await hourly(hass)
    assert after[-1]["sum"] == pytest.approx(before[-1]["sum"])
    assert all(change > 0 for change in changes(after).values())
    await history.async_sync()  # filled once: the next run finds nothing flat
    assert len(history.progress[METER_A].gap_fills) == 1
