"""MeterLink: electricity meters in Home Assistant, read and controlled locally where possible.

One config entry per connection: an EKM RS-485 bus (each meter on it a subentry), a smart-MAC
device, an EKM Push key or a Push3 gateway. Each connection type brings its own setup
(`CONNECTIONS`); everything here is shared.
"""

from __future__ import annotations

from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONNECTION_EKM_PUSH,
    CONNECTION_EKM_RS485,
    CONNECTION_PUSH3,
    CONNECTION_SMARTMAC,
    DOMAIN,
)
from .ekm_push import EKM_PUSH, EKM_PUSH3
from .ekm_rs485 import EKM_RS485
from .push.history import async_clear_entry_history
from .runtime import Connection, MeterLinkConfigEntry, connection_of
from .services import async_setup_services
from .smartmac import SMARTMAC

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

# Connection type (entry data "connection") -> its setup.
CONNECTIONS: Final[dict[str, Connection]] = {
    CONNECTION_EKM_RS485: EKM_RS485,
    CONNECTION_SMARTMAC: SMARTMAC,
    CONNECTION_EKM_PUSH: EKM_PUSH,
    CONNECTION_PUSH3: EKM_PUSH3,
}


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whether or not a connection is loaded yet."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Open the connection, read once, then add the entities of its platforms."""
    connection = CONNECTIONS[connection_of(entry)]
    entry.runtime_data = await connection.async_setup(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, connection.platforms)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Remove the entities and close the connection."""
    connection = CONNECTIONS[connection_of(entry)]
    unloaded = await hass.config_entries.async_unload_platforms(entry, connection.platforms)
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
    connection = CONNECTIONS[connection_of(entry)]
    return all(
        connection.can_remove_device(entry, identifier)
        for domain, identifier in device.identifiers
        if domain == DOMAIN
    )
