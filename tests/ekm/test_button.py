"""Command buttons: reset max demand, set the meter clock, zero the resettable registers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN
from homeassistant.components.button import SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V3_ADDRESS, V4_ADDRESS, entity_id_of


def _sensor(hass: HomeAssistant, address: str, key: str) -> str:
    state = hass.states.get(entity_id_of(hass, "sensor", address, key))
    assert state is not None
    return state.state


async def _press(hass: HomeAssistant, address: str, key: str) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN,
        SERVICE_PRESS,
        {ATTR_ENTITY_ID: entity_id_of(hass, BUTTON_DOMAIN, address, key)},
        blocking=True,
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
@pytest.mark.parametrize("address", [V4_ADDRESS, V3_ADDRESS])
async def test_reset_max_demand(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, address: str
) -> None:
    meter = ekm_simulator.meters[address]
    meter.advance(60)
    await hass.services.async_call(
        "meterlink",
        "read_meter",
        {"device_id": _device_id(hass, address)},
        blocking=True,
        return_response=True,
    )
    assert float(_sensor(hass, address, "max_demand")) > 0
    await _press(hass, address, "reset_max_demand")
    assert meter.max_demand == 0
    assert float(_sensor(hass, address, "max_demand")) == 0


def _device_id(hass: HomeAssistant, address: str) -> str:
    entry = er.async_get(hass).async_get(entity_id_of(hass, "sensor", address, "max_demand"))
    assert entry is not None
    assert entry.device_id is not None
    return entry.device_id


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_set_clock_writes_home_assistants_local_time(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    await hass.config.async_set_time_zone("Pacific/Auckland")
    meter = ekm_simulator.meters[V4_ADDRESS]
    meter.clock = datetime(2001, 1, 1)
    await _press(hass, V4_ADDRESS, "set_clock")
    local_now = dt_util.now().replace(tzinfo=None)
    assert abs(meter.clock - local_now) < timedelta(seconds=5)
    shown = dt_util.parse_datetime(_sensor(hass, V4_ADDRESS, "meter_time"))
    assert shown is not None
    assert abs(shown - dt_util.utcnow()) < timedelta(seconds=5)


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_zero_resettable_energy(hass: HomeAssistant, ekm_simulator: EkmBusSimulator) -> None:
    meter = ekm_simulator.meters[V4_ADDRESS]
    meter.advance(3600)
    await _press(hass, V4_ADDRESS, "zero_resettable_energy")
    assert float(_sensor(hass, V4_ADDRESS, "resettable_energy")) == 0
    assert float(_sensor(hass, V4_ADDRESS, "resettable_export_energy")) == 0
    assert float(_sensor(hass, V4_ADDRESS, "import_energy")) > 0
