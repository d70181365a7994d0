"""An EKM Push entry keeps its meters' history statistics (config entry, options, diagnostics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.history_statistics import CONF_HISTORY, HISTORY_OFF
from custom_components.meterlink.meters.energy_hours import Register
from custom_components.meterlink.push import coordinator as push_coordinator
from custom_components.meterlink.push import history
from custom_components.meterlink.push.history import statistic_id
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_summary import SummaryService, attach_summary

from ..conftest import V3_ADDRESS, V4_ADDRESS, setup_entry
from .conftest import push_entry
from .statistics_rows import hourly_rows

FIRST_REPORT = datetime.now(UTC) - timedelta(days=3)


@pytest.fixture
def mock_recorder_before_hass(async_setup_recorder_instance: RecorderInstanceGenerator) -> None:
    """The recorder's fixtures before `hass` (autouse fixtures ask for `hass` early)."""


@pytest.fixture
def summary(push_simulator: PushSimulator, monkeypatch: pytest.MonkeyPatch) -> SummaryService:
    service = attach_summary(push_simulator, first_report=FIRST_REPORT)
    monkeypatch.setattr(history, "SUMMARY_URL", push_simulator.base_url)
    monkeypatch.setattr(history, "SUMMARY_PACE", 0)
    return service


def settled_hours(service: SummaryService, address: str) -> int:
    """Hours with reads that ended 20 minutes ago or earlier."""
    end = (dt_util.utcnow() - timedelta(minutes=20)).replace(minute=0, second=0, microsecond=0)
    start = int(FIRST_REPORT.timestamp() * 1000) // 3_600_000 * 3_600_000
    end_ms = int(end.timestamp() * 1000)
    return sum(
        1
        for hour in range(start, end_ms, 3_600_000)
        if service.reads(address, hour, hour + 3_600_000)
    )


async def imported(
    hass: HomeAssistant, simulator: PushSimulator, address: str, register: Register
) -> tuple[MockConfigEntry, str, datetime]:
    """A set-up entry whose first history run has written rows of this statistic."""
    entry = await setup_entry(hass, push_entry(simulator))
    await hass.async_block_till_done(wait_background_tasks=True)
    ident = statistic_id(address, register)
    since = FIRST_REPORT - timedelta(days=1)
    assert await hourly_rows(hass, ident, since)
    return entry, ident, since


async def test_setup_imports_every_meters_history(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    summary: SummaryService,
) -> None:
    entry = await setup_entry(hass, push_entry(push_simulator))
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)
    since = FIRST_REPORT - timedelta(days=1)
    for address in (V4_ADDRESS, V3_ADDRESS):
        for register in Register:
            rows = await hourly_rows(hass, statistic_id(address, register), since)
            assert len(rows) == settled_hours(summary, address)
            assert rows[-1]["sum"] > 0
    runtime = push_coordinator.push_runtime(entry)
    assert runtime.history is not None
    found = runtime.diagnostics()["history"]
    assert found["last_error"] is None
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, V4_ADDRESS), entry.entry_id)
    assert device is not None
    assert found["meters"][V4_ADDRESS]["hours_written"] == settled_hours(summary, V4_ADDRESS)
    assert runtime.history.progress[V4_ADDRESS].name == device.name
    assert push_simulator.account_key not in str(found)
    # Only meters: the ioStack has no energy registers and no history statistics.
    assert set(found["meters"]) == {V4_ADDRESS, V3_ADDRESS}


async def test_history_off_imports_nothing_and_deletes_it(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    summary: SummaryService,
) -> None:
    entry, ident, since = await imported(hass, push_simulator, V4_ADDRESS, Register.IMPORT)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_HISTORY: HISTORY_OFF}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert push_coordinator.push_runtime(entry).history is None
    assert await hourly_rows(hass, ident, since) == []


async def test_without_the_recorder_the_entry_works_as_before(
    hass: HomeAssistant, push_simulator: PushSimulator, summary: SummaryService
) -> None:
    entry = await setup_entry(hass, push_entry(push_simulator))
    await hass.async_block_till_done(wait_background_tasks=True)
    runtime = push_coordinator.push_runtime(entry)
    assert runtime.history is None
    assert "history" not in runtime.diagnostics()
    assert summary.served == []
    assert history_sensor(hass, entry) is None


def history_sensor(hass: HomeAssistant, entry: MockConfigEntry) -> str | None:
    """The entity id of the entry's history import sensor (None: it has none)."""
    return er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{entry.unique_id}_history_import"
    )


async def test_the_history_import_sensor_shows_every_meters_progress(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    summary: SummaryService,
) -> None:
    entry = await setup_entry(hass, push_entry(push_simulator))
    await hass.async_block_till_done(wait_background_tasks=True)
    entity_id = history_sensor(hass, entry)
    assert entity_id is not None
    registered = er.async_get(hass).async_get(entity_id)
    assert registered is not None
    assert registered.entity_category is EntityCategory.DIAGNOSTIC
    state = hass.states.get(entity_id)
    assert state is not None
    meters = state.attributes["meters"]
    assert set(meters) == {V4_ADDRESS, V3_ADDRESS}
    assert state.attributes["running"] is False
    for address in (V4_ADDRESS, V3_ADDRESS):
        assert meters[address]["backfilled"] is True
        assert meters[address]["hours_written"] == settled_hours(summary, address)
    # The state is the oldest meter's end of history: every hour before it is imported.
    ends = [datetime.fromisoformat(meter["imported_until"]) for meter in meters.values()]
    assert datetime.fromisoformat(state.state) == min(ends)
    assert min(ends) <= dt_util.utcnow() - timedelta(minutes=20)
    assert push_simulator.account_key not in str(state.as_dict())


async def test_deleting_the_entry_deletes_its_history(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    summary: SummaryService,
) -> None:
    entry, ident, since = await imported(hass, push_simulator, V3_ADDRESS, Register.EXPORT)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert await hourly_rows(hass, ident, since) == []


async def test_a_stream_reconnect_catches_the_history_up(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    summary: SummaryService,
) -> None:
    entry, _, _ = await imported(hass, push_simulator, V4_ADDRESS, Register.IMPORT)
    runtime = push_coordinator.push_runtime(entry)
    assert runtime.history is not None
    assert runtime.streaming is not None
    (catch_up,) = runtime.streaming.after_reconnect
    runs, requests = runtime.history.runs, len(summary.served)
    await catch_up()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert runtime.history.runs == runs + 1
    assert runtime.history.last_error is None
    assert len(summary.served) > requests  # the trailing window was read again
