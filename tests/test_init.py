"""Setting up and unloading a bus, and what happens around it."""

from __future__ import annotations

from types import MappingProxyType

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.ekm.bus import create_bus as REAL_CREATE_BUS
from custom_components.meterlink.meters.ekm.bus import BusTiming
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm.rs485 import EkmBusSimulator, Faults

from .conftest import (
    V3_ADDRESS,
    V4_ADDRESS,
    ConfigEntryBuilder,
    meter_subentry,
    mismatches,
    setup_entry,
)


async def test_setup_and_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert set(entry.runtime_data.coordinator.data) == {V4_ADDRESS, "000300001002", V3_ADDRESS}
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id("sensor", "meterlink", f"{V4_ADDRESS}_import_energy")
    assert entity_id is not None
    assert hass.states.get(entity_id) is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_a_port_that_cannot_be_opened_retries_later(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder
) -> None:
    entry = make_config_entry(url="socket://127.0.0.1:1")  # nothing listens there
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "socket://127.0.0.1:1" in entry.reason


async def test_a_bus_where_no_meter_answers_retries_later(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, mock_config_entry: MockConfigEntry
) -> None:
    ekm_simulator.faults = Faults(silence=1.0)
    await setup_entry(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    # The port was closed again, so the retry (or the config flow) can open it.
    ekm_simulator.faults = Faults()
    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_a_bus_without_meters_loads(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder
) -> None:
    entry = await setup_entry(hass, make_config_entry([]))
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.coordinator.data == {}
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reload_reopens_the_port(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    first_bus = init_integration.runtime_data.bus
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.bus is not first_bus
    assert mismatches(hass, ekm_simulator, V4_ADDRESS) == []


async def test_only_devices_of_unconfigured_meters_can_be_deleted(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    init_integration: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "config", {})
    devices = dr.async_get(hass)
    configured = devices.async_get_device_by_identifier(
        (DOMAIN, V4_ADDRESS), init_integration.entry_id
    )
    assert configured is not None
    stale = devices.async_get_or_create(
        config_entry_id=init_integration.entry_id, identifiers={(DOMAIN, "000999999999")}
    )
    client = await hass_ws_client(hass)
    response = await client.remove_device(configured.id)
    assert not response["success"]
    assert devices.async_get(configured.id) is not None
    response = await client.remove_device(stale.id)
    assert response["success"]
    assert devices.async_get(stale.id) is None


def test_the_default_bus_has_real_timing() -> None:
    bus = REAL_CREATE_BUS("socket://127.0.0.1:9")
    assert bus.timing == BusTiming()
    assert bus.url == "socket://127.0.0.1:9"


async def test_a_meter_that_never_answered_still_has_its_device(
    hass: HomeAssistant, make_config_entry: ConfigEntryBuilder
) -> None:
    absent = "000300009999"  # configured, but not on the wire
    entry = make_config_entry([(V4_ADDRESS, MeterVersion.V4, None)])
    unknown_model = meter_subentry(absent, MeterVersion.V4, None)
    del unknown_model["data"]["model"]  # nothing says what it is until it answers
    entry = MockConfigEntry(
        domain=DOMAIN,
        data=dict(entry.data),
        options=dict(entry.options),
        subentries_data=[unknown_model, meter_subentry(V4_ADDRESS, MeterVersion.V4, None)],
    )
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, absent), entry.entry_id)
    assert device is not None
    assert (device.model, device.sw_version) == (None, None)
    state = hass.states.get(f"sensor.ekm_meter_{absent}_energy_import")
    assert state is not None
    assert state.state == "unavailable"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_other_subentries_and_entries_are_ignored(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    hass.config_entries.async_update_entry(other, title="Another integration")
    hass.config_entries.async_add_subentry(
        init_integration,
        ConfigSubentry(
            data=MappingProxyType({"note": "not a meter"}),
            subentry_type="note",
            title="A note",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    assert set(coordinator.meters) == {V4_ADDRESS, "000300001002", V3_ADDRESS}
    await coordinator.async_refresh()
    assert set(coordinator.data) == {V4_ADDRESS, "000300001002", V3_ADDRESS}
