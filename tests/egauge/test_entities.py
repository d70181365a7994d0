"""eGauge entities against the simulated meter: registers, net import/export, resets, reboots."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.diagnostics import async_get_config_entry_diagnostics
from custom_components.meterlink.egauge.coordinator import egauge_runtime
from simulator.egauge import SimEgauge

from ..conftest import setup_entry
from .conftest import SERIAL, VIEWER, VIEWER_PASSWORD, EntryBuilder, MeterClock, tick


def _value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_one_device_with_sensors_by_type(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    assert entry.state is ConfigEntryState.LOADED
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert len(devices) == 1
    device = devices[0]
    assert (device.model, device.serial_number, device.sw_version) == ("EG4030", SERIAL, "4.6.2")
    grid = hass.states.get("sensor.egauge42_grid")
    assert grid is not None
    assert grid.attributes[ATTR_UNIT_OF_MEASUREMENT] == "W"
    assert hass.states.get("sensor.egauge42_l1_voltage").attributes[ATTR_UNIT_OF_MEASUREMENT] == "V"
    assert (
        hass.states.get("sensor.egauge42_temperature").attributes[ATTR_UNIT_OF_MEASUREMENT] == "°C"
    )
    assert hass.states.get("sensor.egauge42_frequency").attributes[ATTR_UNIT_OF_MEASUREMENT] == "Hz"
    assert hass.states.get("sensor.egauge42_humidity").attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    assert (
        hass.states.get("sensor.egauge42_grid_total").attributes[ATTR_UNIT_OF_MEASUREMENT] == "kVAh"
    )
    # Virtual registers too, which the core integration never sees.
    assert hass.states.get("sensor.egauge42_use") is not None
    solar = hass.states.get("sensor.egauge42_solar_energy")
    assert solar.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    net = hass.states.get("sensor.egauge42_grid_net_energy")
    assert net.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL
    for part in ("import", "export"):
        split = hass.states.get(f"sensor.egauge42_grid_energy_{part}")
        assert split.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    assert _value(hass, "sensor.egauge42_grid_net_energy") == pytest.approx(
        meter.reported()["Grid"] / 3.6e6, abs=0.001
    )
    assert hass.states.get("button.egauge42_reboot") is not None
    assert hass.states.get("update.egauge42_firmware").attributes["latest_version"] == "4.7"


async def test_flipped_load_is_positive(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    await setup_entry(hass, make_egauge_entry())
    assert _value(hass, "sensor.egauge42_hvac") > 0  # wired negative, flipped by the options
    assert _value(hass, "sensor.egauge42_hvac_energy") == pytest.approx(
        -meter.reported()["HVAC"] / 3.6e6, abs=0.001
    )


async def test_net_import_and_export_equal_the_meters_truth(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    await setup_entry(hass, make_egauge_entry())
    start = meter.truth("Grid")
    imports, exports, signs = [], [], set()
    for _ in range(120):  # an hour at 30 s: four sunrises and sunsets
        await tick(hass, meter_clock, 30)
        imports.append(_value(hass, "sensor.egauge42_grid_energy_import"))
        exports.append(_value(hass, "sensor.egauge42_grid_energy_export"))
        signs.add(_value(hass, "sensor.egauge42_grid") > 0)
    truth = meter.truth("Grid")
    assert signs == {True, False}
    assert imports == sorted(imports)
    assert exports == sorted(exports)
    assert imports[-1] == pytest.approx(truth[0] - start[0], abs=0.001)
    assert exports[-1] == pytest.approx(truth[1] - start[1], abs=0.001)
    assert exports[-1] > 0.01
    assert imports[-1] > 0.01


async def test_counter_reset_is_a_new_cycle_not_negative_energy(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    await setup_entry(hass, make_egauge_entry())
    await tick(hass, meter_clock, 30)
    exported = _value(hass, "sensor.egauge42_grid_energy_export")
    imported = _value(hass, "sensor.egauge42_grid_energy_import")
    meter.move_epoch()
    await tick(hass, meter_clock, 30)
    net = hass.states.get("sensor.egauge42_grid_net_energy")
    assert net.attributes.get("last_reset") is not None
    assert _value(hass, "sensor.egauge42_grid_energy_export") >= exported
    assert _value(hass, "sensor.egauge42_grid_energy_import") >= imported
    assert _value(hass, "sensor.egauge42_solar_energy") < 0.05  # a new cycle from zero
    meter.zero()
    await tick(hass, meter_clock, 30)
    assert _value(hass, "sensor.egauge42_grid_energy_export") - exported < 0.05


async def test_unknown_type_code_is_a_plain_sensor(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge
) -> None:
    meter.faults.unknown_type = "Zq"
    await setup_entry(hass, make_egauge_entry())
    state = hass.states.get("sensor.egauge42_mystery")
    assert state is not None
    assert float(state.state) == 7.0


async def test_reboot_503_then_back(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    meter.reboot(delay=0)
    await tick(hass, meter_clock, 30)
    assert hass.states.get("sensor.egauge42_grid").state == STATE_UNAVAILABLE
    assert entry.state is ConfigEntryState.LOADED  # never a reauth for a 503
    assert not hass.config_entries.flow.async_progress()
    await tick(hass, meter_clock, 60)
    assert hass.states.get("sensor.egauge42_grid").state != STATE_UNAVAILABLE
    assert meter.boots == 1


async def test_reboot_button_outage_is_quiet(
    hass: HomeAssistant,
    make_egauge_entry: EntryBuilder,
    meter: SimEgauge,
    meter_clock: MeterClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_entry(hass, make_egauge_entry())
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.egauge42_reboot"}, blocking=True
    )
    assert ("reboot", None) in meter.commands
    await tick(hass, meter_clock, 30)
    assert hass.states.get("sensor.egauge42_grid").state == STATE_UNAVAILABLE
    assert "Error fetching" not in caplog.text
    await tick(hass, meter_clock, 60)
    assert hass.states.get("sensor.egauge42_grid").state != STATE_UNAVAILABLE


async def test_setup_during_a_reboot_retries(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    meter.reboot(delay=0)
    entry = await setup_entry(hass, make_egauge_entry())
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert not hass.config_entries.flow.async_progress()


async def test_token_expiry_and_nonce_expiry_are_handled(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    logins = meter.logins
    meter.expire_tokens()
    meter.faults.expired_nonces = 1
    await tick(hass, meter_clock, 30)
    assert hass.states.get("sensor.egauge42_grid").state != STATE_UNAVAILABLE
    assert meter.logins == logins + 1
    assert entry.state is ConfigEntryState.LOADED


async def test_viewer_has_readings_but_no_commands(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder
) -> None:
    entry = await setup_entry(hass, make_egauge_entry(user=VIEWER, password=VIEWER_PASSWORD))
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.egauge42_grid") is not None
    assert hass.states.get("button.egauge42_reboot") is None
    assert hass.states.get("update.egauge42_firmware") is None


async def test_register_selection_and_local_sensors(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter_clock: MeterClock
) -> None:
    entry = await setup_entry(hass, make_egauge_entry(options={"registers": ["Grid"]}))
    assert hass.states.get("sensor.egauge42_grid") is not None
    assert hass.states.get("sensor.egauge42_solar") is None
    registry = er.async_get(hass)
    local = registry.async_get_entity_id("sensor", DOMAIN, f"egauge_{SERIAL}_local_L1")
    assert local is not None
    assert registry.async_get(local).disabled
    registry.async_update_entity(local, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await tick(hass, meter_clock, 30)
    assert 110 < _value(hass, local) < 130
    assert egauge_runtime(entry).coordinator.local_wanted == 1


async def test_split_state_survives_a_restart(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, meter: SimEgauge, meter_clock: MeterClock
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    start = meter.truth("Grid")
    for _ in range(10):
        await tick(hass, meter_clock, 30)
    await hass.config_entries.async_unload(entry.entry_id)
    meter_clock.now += 600  # Home Assistant was down for ten minutes
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await tick(hass, meter_clock, 30)
    truth = meter.truth("Grid")
    assert _value(hass, "sensor.egauge42_grid_energy_import") == pytest.approx(
        truth[0] - start[0], abs=0.001
    )
    assert _value(hass, "sensor.egauge42_grid_energy_export") == pytest.approx(
        truth[1] - start[1], abs=0.001
    )


async def test_diagnostics_never_show_the_password(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["meter"]["rights"] == ["ctrl", "save"]
    assert diagnostics["registers"]["use"]["virtual"] is True
    text = str(diagnostics)
    assert "owner-secret" not in text
    assert "Bearer" not in text


async def test_unreadable_stored_split_starts_anew(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder, hass_storage: dict[str, Any]
) -> None:
    entry = make_egauge_entry()
    hass_storage[f"{DOMAIN}.egauge_{entry.entry_id}"] = {
        "version": 1,
        "key": f"{DOMAIN}.egauge_{entry.entry_id}",
        "data": {"totals": {"Grid": 5}, "counters": {}, "ts": 1},
    }
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert _value(hass, "sensor.egauge42_grid_energy_import") == 0


async def test_a_device_per_register_when_chosen(
    hass: HomeAssistant, make_egauge_entry: EntryBuilder
) -> None:
    entry = await setup_entry(hass, make_egauge_entry(options={"register_devices": True}))
    registry = dr.async_get(hass)
    devices = dr.async_entries_for_config_entry(registry, entry.entry_id)
    meter = next(d for d in devices if d.via_device_id is None)
    grid = next(d for d in devices if d.name == "eGauge42 Grid")
    assert grid.via_device_id == meter.id
    assert hass.states.get("sensor.egauge42_grid_power") is not None
    assert hass.states.get("sensor.egauge42_grid_energy_import") is not None
    assert hass.states.get("sensor.egauge42_grid_net_energy") is not None
