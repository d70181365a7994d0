"""Actions on one meter on an RS-485 bus, addressed by its device: read, switch a relay, set clock.

Registered once in `async_setup`, so they exist (and explain themselves) even while no bus is
loaded. The device is resolved through the device registry to its bus's config entry and the
meter's subentry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import probatio
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from ..const import DOMAIN
from ..meters.ekm import MAX_RELAY_SECONDS, relay
from ..meters.errors import InvalidParameterError
from ..runtime import MeterLinkConfigEntry
from .bus import EkmBusCoordinator, EkmBusRuntimeData, MeterConfig
from .descriptions import RELAYS, clock_command
from .readout import read_meter_response

SERVICE_READ_METER = "read_meter"
SERVICE_SET_RELAY = "set_relay"
SERVICE_SET_METER_CLOCK = "set_meter_clock"

ATTR_RELAY = "relay"
ATTR_STATE = "state"
ATTR_SECONDS = "seconds"
ATTR_DATETIME = "datetime"
STATE_OPEN = "open"
STATE_CLOSE = "close"

METER_SCHEMA = probatio.Schema({probatio.Required(ATTR_DEVICE_ID): cv.string})

SET_RELAY_SCHEMA = METER_SCHEMA.extend(
    {
        probatio.Required(ATTR_RELAY): probatio.All(probatio.Coerce(int), probatio.In(RELAYS)),
        probatio.Required(ATTR_STATE): probatio.In((STATE_OPEN, STATE_CLOSE)),
        probatio.Optional(ATTR_SECONDS, default=0): probatio.All(
            probatio.Coerce(int), probatio.Range(min=0, max=MAX_RELAY_SECONDS)
        ),
    }
)

SET_METER_CLOCK_SCHEMA = METER_SCHEMA.extend({probatio.Optional(ATTR_DATETIME): cv.datetime})


def _resolve_meter(hass: HomeAssistant, device_id: str) -> tuple[EkmBusCoordinator, MeterConfig]:
    """The coordinator of the bus a meter device is on, and the meter's configuration."""
    device = dr.async_get(hass).async_get(device_id)
    address = None
    if device is not None:
        address = next((ident for domain, ident in device.identifiers if domain == DOMAIN), None)
    entry: MeterLinkConfigEntry | None = (
        hass.config_entries.async_get_entry(device.config_entry_id) if device is not None else None
    )
    if device is None or address is None or entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="device_not_found",
            translation_placeholders={"device_id": device_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"bus": entry.title},
        )
    if not isinstance(entry.runtime_data, EkmBusRuntimeData):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_an_rs485_meter",
            translation_placeholders={"device": device.name_by_user or device.name or device_id},
        )
    coordinator = entry.runtime_data.coordinator
    return coordinator, coordinator.meter(address)


def _relay_states(closed: dict[int, bool | None]) -> dict[str, Any]:
    return {
        f"relay_{number}": None if state is None else ("closed" if state else "open")
        for number, state in closed.items()
    }


@callback
def async_setup_ekm_services(hass: HomeAssistant) -> None:
    """Register the meter actions."""

    async def _read_meter(call: ServiceCall) -> ServiceResponse:
        coordinator, meter = _resolve_meter(hass, call.data[ATTR_DEVICE_ID])
        return read_meter_response(await coordinator.async_read(meter.address))

    async def _set_relay(call: ServiceCall) -> ServiceResponse:
        coordinator, meter = _resolve_meter(hass, call.data[ATTR_DEVICE_ID])
        command = relay(
            call.data[ATTR_RELAY], call.data[ATTR_STATE] == STATE_CLOSE, call.data[ATTR_SECONDS]
        )
        reading = await coordinator.async_execute(meter.address, command)
        if not call.return_response:
            return None
        return _relay_states({number: reading.relay_closed(number) for number in RELAYS})

    async def _set_meter_clock(call: ServiceCall) -> None:
        coordinator, meter = _resolve_meter(hass, call.data[ATTR_DEVICE_ID])
        when: datetime | None = call.data.get(ATTR_DATETIME)
        try:
            command = clock_command(when)
        except InvalidParameterError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_clock",
                translation_placeholders={"error": str(err)},
            ) from err
        await coordinator.async_execute(meter.address, command)

    hass.services.async_register(
        DOMAIN,
        SERVICE_READ_METER,
        _read_meter,
        schema=METER_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_RELAY,
        _set_relay,
        schema=SET_RELAY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_METER_CLOCK,
        _set_meter_clock,
        schema=SET_METER_CLOCK_SCHEMA,
    )
