"""Setting up and unloading a bus, and what happens around it."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import V3_ADDRESS, V4_ADDRESS


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
