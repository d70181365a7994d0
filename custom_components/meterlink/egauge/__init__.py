"""Setting up an eGauge entry: one meter over its WebAPI, read once before its entities exist."""

from __future__ import annotations

from typing import Final

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from ..const import CONNECTION_EGAUGE, LOGGER
from ..meters.errors import MeterError
from ..runtime import Connection, ConnectionFlow, MeterLinkConfigEntry
from .coordinator import EgaugeCoordinator, EgaugeRuntimeData
from .entities import (
    async_add_egauge_buttons,
    async_add_egauge_sensors,
    async_add_egauge_updates,
    egauge_device_info,
)
from .flow import EgaugeConfigFlowMixin, EgaugeOptionsFlow, make_client
from .history import async_start_egauge_history


async def async_setup_egauge(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> EgaugeRuntimeData:
    """Log in, learn who the meter is and what the user may do, then poll.

    A meter that is rebooting (503) or away makes the setup retry later (ConfigEntryNotReady),
    a refused password starts a reauth: the first refresh maps both.
    """
    client = make_client(hass, entry.data)
    coordinator = EgaugeCoordinator(hass, entry, client)
    await coordinator.async_restore()
    await coordinator.async_config_entry_first_refresh()
    # The meter's device first, so registers on devices of their own can name it as theirs.
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **egauge_device_info(coordinator)
    )
    coordinator.meter_device_id = device.id
    runtime = EgaugeRuntimeData(coordinator)
    try:
        local = await client.local()
    except MeterError as err:
        LOGGER.debug("%s: no /local values: %s", coordinator.name, err)
    else:
        runtime.local_sensors = [(name, value.type) for name, value in local.values.items()]
    registry = dr.async_get(hass)

    def device_name() -> str:
        current = registry.async_get(device.id)
        return (current.name_by_user or current.name if current else None) or coordinator.name

    runtime.history = async_start_egauge_history(
        hass, entry, client, coordinator.info.serial, device_name
    )
    return runtime


EGAUGE: Final = Connection(
    connection_id=CONNECTION_EGAUGE,
    async_setup=async_setup_egauge,
    platforms={
        Platform.SENSOR: async_add_egauge_sensors,
        Platform.BUTTON: async_add_egauge_buttons,
        Platform.UPDATE: async_add_egauge_updates,
    },
    flow=ConnectionFlow(
        reauth=EgaugeConfigFlowMixin.async_step_egauge_reauth,
        reconfigure=EgaugeConfigFlowMixin.async_step_egauge_reconfigure,
        options_flow=EgaugeOptionsFlow,
    ),
)
