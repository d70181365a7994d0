"""Setting up a smart-MAC entry: one device over HTTP, read once before its entities are added."""

from __future__ import annotations

from typing import Final

from homeassistant.const import CONF_DEVICE_ID, CONF_HOST, CONF_PIN, Platform
from homeassistant.core import HomeAssistant

from ..const import CONNECTION_SMARTMAC
from ..meters.smartmac import SmartMacModel
from ..runtime import Connection, ConnectionFlow, MeterLinkConfigEntry
from .coordinator import SmartMacCoordinator, SmartMacRuntimeData
from .entities import async_add_smartmac_sensors, async_add_smartmac_switches
from .flow import SmartMacConfigFlowMixin, SmartMacOptionsFlow
from .link import async_get_link
from .options import model_of


async def async_setup_smartmac(
    hass: HomeAssistant, entry: MeterLinkConfigEntry
) -> SmartMacRuntimeData:
    """Read the device once (or reuse the reading the flow just made), then poll it."""
    data = entry.data
    model = model_of(data)
    link = async_get_link(
        hass,
        data[CONF_HOST],
        data[CONF_DEVICE_ID],
        data[CONF_PIN],
        model_hint=None if model is SmartMacModel.UNKNOWN else model,
    )
    coordinator = SmartMacCoordinator(hass, entry, link)
    await coordinator.async_config_entry_first_refresh()
    return SmartMacRuntimeData(link, coordinator)


SMARTMAC: Final = Connection(
    connection_id=CONNECTION_SMARTMAC,
    async_setup=async_setup_smartmac,
    platforms={
        Platform.SENSOR: async_add_smartmac_sensors,
        Platform.SWITCH: async_add_smartmac_switches,
    },
    flow=ConnectionFlow(
        reauth=SmartMacConfigFlowMixin.async_step_smartmac_reauth,
        reconfigure=SmartMacConfigFlowMixin.async_step_smartmac_reconfigure,
        options_flow=SmartMacOptionsFlow,
    ),
)
