"""MeterLink: electricity meters in Home Assistant, read and controlled locally where possible.

One config entry per connection: an EKM RS-485 bus (each meter on it a subentry), a smart-MAC
device, an EKM Push key or a Push3 gateway. Each connection type brings its own setup
(`connections.CONNECTIONS`); everything here is shared.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .connections import connection_for
from .const import CONNECTION_EKM_PUSH, DOMAIN
from .push.history import async_clear_entry_history
from .runtime import MeterLinkConfigEntry, connection_of
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whether or not a connection is loaded yet."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Open the connection, read once, then add the entities of its platforms."""
    connection = connection_for(entry)
    entry.runtime_data = await connection.async_setup(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, tuple(connection.platforms))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Remove the entities and close the connection."""
    connection = connection_for(entry)
    unloaded = await hass.config_entries.async_unload_platforms(entry, tuple(connection.platforms))
    if unloaded:
        await entry.runtime_data.async_close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
    """A deleted EKM Push entry takes its meters' history statistics with it."""
    if connection_of(entry) == CONNECTION_EKM_PUSH:
        await async_clear_entry_history(hass, entry)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: MeterLinkConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device that its connection no longer has."""
    connection = connection_for(entry)
    return all(
        connection.can_remove_device(entry, identifier)
        for domain, identifier in device.identifiers
        if domain == DOMAIN
    )
