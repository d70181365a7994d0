"""Setting up an RS-485 bus entry: open the port once, read every meter, then add entities."""

from __future__ import annotations

from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from ..const import CONNECTION_EKM_RS485
from ..errors import ErrorTable, Rule, translate_errors
from ..meters.errors import MeterError
from ..runtime import Connection, ConnectionFlow, MeterLinkConfigEntry
from . import bus as coordinator_module
from .bus import EkmBusCoordinator, EkmBusRuntimeData, meters_of
from .const import CONF_PORT, SUBENTRY_METER
from .entities import BUS_PLATFORMS
from .flow import EkmBusOptionsFlow, EkmRs485ConfigFlowMixin, MeterSubentryFlow

CONNECT_ERRORS: Final[ErrorTable] = (
    Rule(error=MeterError, key="cannot_connect", raises=ConfigEntryNotReady),
)


async def async_setup_bus(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> EkmBusRuntimeData:
    """Open the bus and read every meter once; the port is closed again if that fails."""
    port = entry.data[CONF_PORT]
    bus = coordinator_module.create_bus(port)
    with translate_errors(CONNECT_ERRORS, {"port": port}):
        await bus.connect()
    coordinator = EkmBusCoordinator(hass, entry, bus)
    try:
        await coordinator.async_config_entry_first_refresh()
    except BaseException:
        await bus.close()  # the port must be free for the retry (and for the config flow)
        raise
    coordinator.async_watch_meters()
    return EkmBusRuntimeData(bus=bus, coordinator=coordinator)


def can_remove_meter_device(entry: MeterLinkConfigEntry, identifier: str) -> bool:
    """A meter's device may be deleted once the meter is no longer configured on the bus."""
    return identifier not in meters_of(entry)


EKM_RS485: Final = Connection(
    connection_id=CONNECTION_EKM_RS485,
    async_setup=async_setup_bus,
    platforms=BUS_PLATFORMS,
    flow=ConnectionFlow(
        reauth=EkmRs485ConfigFlowMixin.async_step_ekm_rs485_reauth,
        reconfigure=EkmRs485ConfigFlowMixin.async_step_ekm_rs485_reconfigure,
        options_flow=EkmBusOptionsFlow,
        subentry_flows={SUBENTRY_METER: MeterSubentryFlow},
    ),
    can_remove_device=can_remove_meter_device,
)
