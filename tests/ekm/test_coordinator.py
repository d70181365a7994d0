"""The bus coordinator: per-meter availability, B-block cadence and the monotonic guard."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.ekm.bus import EkmBusCoordinator
from custom_components.meterlink.meters.ekm.layout import Block
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm.meter import SimMeter
from simulator.ekm.rs485 import EkmBusSimulator, Faults

from ..conftest import (
    PASSWORD,
    V3_ADDRESS,
    V4_ADDRESS,
    V4_OTHER,
    ConfigEntryBuilder,
    add_meter,
    entity_id_of,
    mismatches,
    served_truth,
    setup_entry,
)

SCAN = timedelta(seconds=10)


def _coordinator(entry: MockConfigEntry) -> EkmBusCoordinator:
    return entry.runtime_data.coordinator


def _state(hass: HomeAssistant, address: str, key: str, platform: str = "sensor") -> str:
    state = hass.states.get(entity_id_of(hass, platform, address, key))
    assert state is not None
    return state.state


async def _tick(hass: HomeAssistant, delta: timedelta = SCAN) -> None:
    """Fire the coordinator's own schedule and wait for the poll it starts.

    Without freezing time: a frozen clock also freezes the event loop's, and a silent meter
    would then wait for its timeout forever.
    """
    async_fire_time_changed(hass, dt_util.utcnow() + delta)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _tick_frozen(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta = SCAN
) -> None:
    """Move the frozen clock (only where every meter answers: nothing may time out)."""
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _b_reads(simulator: EkmBusSimulator, address: str) -> int:
    return sum(
        1 for frame in simulator.served if frame.address == address and frame.block is Block.V4B
    )


async def test_a_silent_meter_goes_unavailable_alone_and_comes_back(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.meterlink")
    silent = ekm_simulator.meters.pop(V4_OTHER)  # no such meter on the wire any more
    for _ in range(3):
        await _tick(hass)
        assert _state(hass, V4_OTHER, "import_energy") == STATE_UNAVAILABLE
        assert _state(hass, V4_OTHER, "relay_1", "switch") == STATE_UNAVAILABLE
        assert _state(hass, V4_ADDRESS, "import_energy") != STATE_UNAVAILABLE
        assert _state(hass, V3_ADDRESS, "import_energy") != STATE_UNAVAILABLE
    assert _coordinator(init_integration).last_update_success
    assert caplog.text.count(f"Meter {V4_OTHER} is unavailable") == 1

    ekm_simulator.meters[V4_OTHER] = silent
    silent.advance(60)
    for _ in range(2):
        await _tick(hass)
    assert mismatches(hass, ekm_simulator, V4_OTHER) == []
    assert _state(hass, V4_OTHER, "import_energy") != STATE_UNAVAILABLE
    assert caplog.text.count(f"Meter {V4_OTHER} is answering again") == 1


async def test_all_meters_silent_fails_the_update(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
) -> None:
    coordinator = _coordinator(init_integration)
    ekm_simulator.faults = Faults(silence=1.0)
    await _tick(hass)
    assert not coordinator.last_update_success
    assert coordinator.last_exception is not None
    assert getattr(coordinator.last_exception, "translation_key", None) == "all_meters_unavailable"
    for address in (V4_ADDRESS, V4_OTHER, V3_ADDRESS):
        assert _state(hass, address, "import_energy") == STATE_UNAVAILABLE

    ekm_simulator.faults = Faults()
    await _tick(hass)
    assert coordinator.last_update_success
    for address in (V4_ADDRESS, V4_OTHER, V3_ADDRESS):
        assert mismatches(hass, ekm_simulator, address) == []


async def test_settings_block_is_read_when_due(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    make_config_entry: ConfigEntryBuilder,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await setup_entry(hass, make_config_entry(settings_interval=60))
    assert _b_reads(ekm_simulator, V4_ADDRESS) == 1  # at setup
    meter = ekm_simulator.meters[V4_ADDRESS]
    meter.ct_ratio = 400  # changed on the meter itself: shows with the next B read
    for _ in range(5):
        await _tick_frozen(hass, freezer)
    assert _b_reads(ekm_simulator, V4_ADDRESS) == 1
    assert _state(hass, V4_ADDRESS, "ct_ratio", "select") == "200"
    # Between B reads, the cached B values stay under fresh A values.
    meter.advance(600)
    await _tick_frozen(hass, freezer)
    assert _b_reads(ekm_simulator, V4_ADDRESS) == 2
    assert _state(hass, V4_ADDRESS, "ct_ratio", "select") == "400"
    meter.advance(600)
    await _tick_frozen(hass, freezer)
    assert _b_reads(ekm_simulator, V4_ADDRESS) == 2
    assert mismatches(hass, ekm_simulator, V4_ADDRESS) == []
    assert _b_reads(ekm_simulator, V3_ADDRESS) == 0  # v3 has a single block
    await hass.config_entries.async_unload(entry.entry_id)


async def test_settings_block_is_read_right_after_a_settings_write(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    before = _b_reads(ekm_simulator, V4_ADDRESS)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id_of(hass, "select", V4_ADDRESS, "ct_ratio"), "option": "800"},
        blocking=True,
    )
    assert _b_reads(ekm_simulator, V4_ADDRESS) == before + 1
    assert _state(hass, V4_ADDRESS, "ct_ratio", "select") == "800"
    # A relay does not change settings: no B read.
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": entity_id_of(hass, "switch", V4_ADDRESS, "relay_1")},
        blocking=True,
    )
    assert _b_reads(ekm_simulator, V4_ADDRESS) == before + 1


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_lifetime_totals_never_go_backwards(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = _coordinator(init_integration)
    original = ekm_simulator.meters[V4_ADDRESS]
    original.advance(3600)
    await coordinator.async_refresh()
    published = _state(hass, V4_ADDRESS, "import_energy")
    exported = _state(hass, V4_ADDRESS, "export_energy")
    pulses = _state(hass, V4_ADDRESS, "pulse_count_1")
    power_before = _state(hass, V4_ADDRESS, "power")

    # A meter with the same address but an hour less on its registers answers from now on.
    replacement = SimMeter(V4_ADDRESS, pulse_rates=[0.0, 0.0, 0.0])
    replacement.watts = [900.0, 400.0, -2000.0]
    ekm_simulator.meters[V4_ADDRESS] = replacement
    for _ in range(3):
        await coordinator.async_refresh()
        assert _state(hass, V4_ADDRESS, "import_energy") == published
        assert _state(hass, V4_ADDRESS, "export_energy") == exported
        assert _state(hass, V4_ADDRESS, "pulse_count_1") == pulses
    # Everything else is published as read.
    assert _state(hass, V4_ADDRESS, "power") != power_before
    assert caplog.text.count(f"Meter {V4_ADDRESS} reported kWh_Tot, Rev_kWh_Tot lower") == 1

    # Once the registers pass the held values, they are published again.
    replacement.advance(4 * 3600)
    await coordinator.async_refresh()
    truth = served_truth(ekm_simulator, V4_ADDRESS)
    assert float(_state(hass, V4_ADDRESS, "import_energy")) == truth.import_kwh
    assert float(_state(hass, V4_ADDRESS, "import_energy")) > float(published)
    assert "kWh_Tot is increasing again" in caplog.text


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_resettable_energy_may_only_drop_to_zero(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    coordinator = _coordinator(init_integration)
    meter = ekm_simulator.meters[V4_ADDRESS]
    meter.advance(7200)
    await coordinator.async_refresh()
    high = _state(hass, V4_ADDRESS, "resettable_energy")
    assert float(high) > 0
    # A fresh meter (registers an hour lower, resettable counted from zero) is a bad read...
    replacement = SimMeter(V4_ADDRESS)
    replacement.advance(3600)
    ekm_simulator.meters[V4_ADDRESS] = replacement
    await coordinator.async_refresh()
    assert _state(hass, V4_ADDRESS, "resettable_energy") == high
    # ...but zeroing the register is a reset, and is published.
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": entity_id_of(hass, "button", V4_ADDRESS, "zero_resettable_energy")},
        blocking=True,
    )
    assert float(_state(hass, V4_ADDRESS, "resettable_energy")) == 0
    replacement.advance(3600)
    await coordinator.async_refresh()
    assert 0 < float(_state(hass, V4_ADDRESS, "resettable_energy")) < float(high)


async def test_firmware_change_updates_the_device(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    ekm_simulator.meters[V4_ADDRESS].firmware = "1d"
    await _coordinator(init_integration).async_refresh()
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, V4_ADDRESS), init_integration.entry_id
    )
    assert device is not None
    assert device.sw_version == "0x1d"


async def test_devices_registered_with_model_codes_are_humanised(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    """A device stored before issue 13 #8 ("Omnimeter Pulse v.4 (1024)", firmware "1c")."""
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier(
        (DOMAIN, V4_ADDRESS), init_integration.entry_id
    )
    assert device is not None
    registry.async_update_device(device.id, model_id="1024", sw_version="1c")
    ekm_simulator.meters[V4_ADDRESS].firmware = "1d"
    await _coordinator(init_integration).async_refresh()
    device = registry.async_get(device.id)
    assert device is not None
    assert (device.model, device.model_id, device.sw_version) == (
        "Omnimeter Pulse v.4",
        None,
        "0x1d",
    )


async def test_meters_added_and_removed_while_loaded(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    make_config_entry: ConfigEntryBuilder,
) -> None:
    entry = await setup_entry(hass, make_config_entry([(V4_ADDRESS, MeterVersion.V4, PASSWORD)]))
    registry_devices = dr.async_get(hass)
    assert set(_coordinator(entry).data) == {V4_ADDRESS}

    # The subentry flow adds a meter: its entities appear and it is read, without a reload.
    subentry = add_meter(hass, entry, V3_ADDRESS, MeterVersion.V3, None)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(_coordinator(entry).data) == {V4_ADDRESS, V3_ADDRESS}
    assert mismatches(hass, ekm_simulator, V3_ADDRESS) == []
    assert registry_devices.async_get_device_by_identifier((DOMAIN, V3_ADDRESS), entry.entry_id)

    # Removing it removes its device and entities; the bus stops reading it.
    hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    await hass.async_block_till_done()
    entity_id = f"sensor.ekm_meter_{V3_ADDRESS}_energy_import"
    assert hass.states.get(entity_id) is None
    assert not registry_devices.async_get_device_by_identifier((DOMAIN, V3_ADDRESS), entry.entry_id)
    await _coordinator(entry).async_refresh()
    assert set(_coordinator(entry).data) == {V4_ADDRESS}
    await hass.config_entries.async_unload(entry.entry_id)
