"""MeterLink: EKM Omnimeters on an RS-485 bus, read and controlled locally.

One config entry per bus (a serial port or a serial-to-TCP bridge); each meter on the bus is a
subentry. The bus is opened once here and shared by the coordinator, the entities, the actions
and the config flow's meter validation.
"""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import ConfigType

from . import coordinator as coordinator_module
from .const import CONF_PORT, DOMAIN
from .coordinator import (
    EkmBusCoordinator,
    MeterLinkConfigEntry,
    MeterLinkRuntimeData,
    meters_of,
)
from .meters.errors import MeterError
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whether or not a bus is loaded yet."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Open the bus, read every meter once, then add the entities."""
    port = entry.data[CONF_PORT]
    bus = coordinator_module.create_bus(port)
    try:
        await bus.connect()
    except MeterError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"port": port, "error": str(err)},
        ) from err
    coordinator = EkmBusCoordinator(hass, entry, bus)
    try:
        await coordinator.async_config_entry_first_refresh()
    except BaseException:
        await bus.close()  # the port must be free for the retry (and for the config flow)
        raise
    entry.runtime_data = MeterLinkRuntimeData(bus=bus, coordinator=coordinator)
    coordinator.async_watch_meters()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Remove the entities and close the port."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.bus.close()
    return unloaded


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: MeterLinkConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a meter's device once the meter is no longer configured."""
    configured = meters_of(entry)
    return not any(
        domain == DOMAIN and identifier in configured for domain, identifier in device.identifiers
    )
