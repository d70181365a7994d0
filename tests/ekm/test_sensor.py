"""Sensors show exactly what the meters said, with EKM's energy and sign conventions."""

from __future__ import annotations

from datetime import datetime

import pytest
from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import (
    V3_ADDRESS,
    V4_ADDRESS,
    V4_OTHER,
    entity_id_of,
    meter_entities,
    mismatches,
    served_truth,
)


def _state(hass: HomeAssistant, address: str, key: str) -> str:
    state = hass.states.get(entity_id_of(hass, "sensor", address, key))
    assert state is not None
    return state.state


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_every_entity_shows_the_simulators_truth(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    for address in (V4_ADDRESS, V4_OTHER, V3_ADDRESS):
        assert mismatches(hass, ekm_simulator, address) == []
        assert len(meter_entities(hass, address)) > 10
    # ...and keeps doing so as the meters move on.
    for meter in ekm_simulator.meters.values():
        meter.advance(3600)
    await init_integration.runtime_data.coordinator.async_refresh()
    for address in (V4_ADDRESS, V4_OTHER, V3_ADDRESS):
        assert mismatches(hass, ekm_simulator, address) == []


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_import_is_total_minus_reverse(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    for address in (V4_ADDRESS, V3_ADDRESS):
        truth = served_truth(ekm_simulator, address).fields
        total, reverse = float(truth["kWh_Tot"]), float(truth["Rev_kWh_Tot"])
        assert float(_state(hass, address, "import_energy")) == pytest.approx(total - reverse)
        assert float(_state(hass, address, "export_energy")) == reverse
        assert float(_state(hass, address, "total_energy")) == total
    truth = served_truth(ekm_simulator, V4_ADDRESS).fields
    for tariff in (1, 2):
        assert float(_state(hass, V4_ADDRESS, f"tariff_{tariff}_import_energy")) == pytest.approx(
            float(truth[f"kWh_Tariff_{tariff}"]) - float(truth[f"Rev_kWh_Tariff_{tariff}"])
        )
    assert float(_state(hass, V4_ADDRESS, "line_3_import_energy")) == pytest.approx(
        float(truth["kWh_Ln_3"]) - float(truth["Rev_kWh_Ln_3"])
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_power_and_power_factor_are_signed(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    # The simulated meters import on lines 1 and 2 and export on line 3 (leading, pf 0.9).
    truth = served_truth(ekm_simulator, V4_ADDRESS).fields
    watts = [int(truth[f"RMS_Watts_Ln_{line}"]) for line in (1, 2, 3)]
    assert _state(hass, V4_ADDRESS, "line_3_power") == str(-watts[2])
    assert _state(hass, V4_ADDRESS, "line_1_power") == str(watts[0])
    assert _state(hass, V4_ADDRESS, "power") == str(watts[0] + watts[1] - watts[2])
    assert _state(hass, V4_ADDRESS, "line_1_power_factor") == "0.95"
    assert _state(hass, V4_ADDRESS, "line_2_power_factor") == "1.0"
    assert _state(hass, V4_ADDRESS, "line_3_power_factor") == "-0.9"
    # A v3 meter does not report direction: its power is the unsigned sum.
    v3 = served_truth(ekm_simulator, V3_ADDRESS).fields
    assert _state(hass, V3_ADDRESS, "power") == str(v3["RMS_Watts_Tot"])
    assert _state(hass, V3_ADDRESS, "line_3_power") == str(v3["RMS_Watts_Ln_3"])


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_meter_clock_is_read_in_home_assistants_time_zone(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, mock_config_entry: MockConfigEntry
) -> None:
    await hass.config.async_set_time_zone("America/New_York")
    for meter in ekm_simulator.meters.values():
        meter.clock = datetime(2026, 7, 4, 12, 30, 15)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    # 12:30:15 EDT is 16:30:15 UTC.
    assert _state(hass, V4_ADDRESS, "meter_time") == "2026-07-04T16:30:15+00:00"
    await hass.config_entries.async_unload(mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_energy_sensors_suit_the_energy_dashboard(hass: HomeAssistant) -> None:
    for key in ("import_energy", "export_energy"):
        state = hass.states.get(entity_id_of(hass, "sensor", V4_ADDRESS, key))
        assert state is not None
        assert state.attributes[ATTR_DEVICE_CLASS] == "energy"
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
        assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    reactive = entity_id_of(hass, "sensor", V4_ADDRESS, "reactive_energy")
    entry = er.async_get(hass).async_get(reactive)
    assert entry is not None
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION


@pytest.mark.usefixtures("init_integration")
async def test_default_entities(hass: HomeAssistant) -> None:
    registry = er.async_get(hass)
    enabled = {
        entry.unique_id.removeprefix(f"{V4_ADDRESS}_")
        for entry in registry.entities.values()
        if entry.unique_id.startswith(V4_ADDRESS) and entry.platform == DOMAIN
        if entry.domain == "sensor" and entry.disabled_by is None
    }
    assert enabled == {
        "import_energy",
        "export_energy",
        "power",
        "line_1_voltage",
        "frequency",
        "max_demand",
    }


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_v3_meters_have_no_v4_only_sensors(hass: HomeAssistant) -> None:
    registry = er.async_get(hass)
    for key in ("frequency", "reactive_energy", "line_1_import_energy", "resettable_energy"):
        assert registry.async_get_entity_id("sensor", DOMAIN, f"{V3_ADDRESS}_{key}") is None
        assert registry.async_get_entity_id("sensor", DOMAIN, f"{V4_ADDRESS}_{key}") is not None
    for platform, key in (("switch", "relay_1"), ("binary_sensor", "pulse_input_1")):
        assert registry.async_get_entity_id(platform, DOMAIN, f"{V3_ADDRESS}_{key}") is None
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{V3_ADDRESS}_pulse_count_1")


@pytest.mark.usefixtures("init_integration")
async def test_each_meter_is_a_device_of_its_subentry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    devices = dr.async_get(hass)
    entry_id = mock_config_entry.entry_id
    v4 = devices.async_get_device_by_identifier((DOMAIN, V4_ADDRESS), entry_id)
    v3 = devices.async_get_device_by_identifier((DOMAIN, V3_ADDRESS), entry_id)
    assert v4 is not None
    assert v3 is not None
    # Issue 13 #8: the model a user knows, no "(1024)" code beside it, firmware in EKM's 0x form.
    assert (v4.manufacturer, v4.model, v4.model_id, v4.serial_number, v4.sw_version) == (
        "EKM Metering",
        "Omnimeter Pulse v.4",
        None,
        V4_ADDRESS,
        "0x1c",
    )
    assert (v3.model, v3.model_id, v3.sw_version) == ("Omnimeter I v.3", None, "0x14")
    subentry_ids = {
        subentry.unique_id: subentry.subentry_id
        for subentry in mock_config_entry.subentries.values()
    }
    assert v4.config_subentry_id == subentry_ids[V4_ADDRESS]
    entity = er.async_get(hass).async_get(entity_id_of(hass, "sensor", V4_ADDRESS, "power"))
    assert entity is not None
    assert entity.config_subentry_id == subentry_ids[V4_ADDRESS]
    assert entity.device_id == v4.id
