"""Pulse-input ratio numbers."""

from __future__ import annotations

import pytest
from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.number import DOMAIN as NUMBER_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V4_ADDRESS, V4_OTHER, entity_id_of


def _state(hass: HomeAssistant, address: str, key: str) -> float:
    state = hass.states.get(entity_id_of(hass, NUMBER_DOMAIN, address, key))
    assert state is not None
    return float(state.state)


async def _set(hass: HomeAssistant, address: str, key: str, value: float) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id_of(hass, NUMBER_DOMAIN, address, key), ATTR_VALUE: value},
        blocking=True,
    )


@pytest.mark.usefixtures("init_integration")
async def test_pulse_input_ratios(hass: HomeAssistant, ekm_simulator: EkmBusSimulator) -> None:
    meter = ekm_simulator.meters[V4_ADDRESS]
    assert [_state(hass, V4_ADDRESS, f"pulse_input_{n}_ratio") for n in (1, 2, 3)] == [
        1,
        10,
        100,
    ]
    await _set(hass, V4_ADDRESS, "pulse_input_2_ratio", 250)
    assert meter.pulse_ratios == [1, 250, 100]
    assert _state(hass, V4_ADDRESS, "pulse_input_2_ratio") == 250


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize("value", [0, 10000])
async def test_out_of_range_never_reaches_the_meter(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, value: int
) -> None:
    with pytest.raises(ServiceValidationError):
        await _set(hass, V4_ADDRESS, "pulse_input_1_ratio", value)
    assert ekm_simulator.meters[V4_ADDRESS].pulse_ratios[0] == 1


@pytest.mark.usefixtures("init_integration")
async def test_needs_the_password(hass: HomeAssistant) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _set(hass, V4_OTHER, "pulse_input_1_ratio", 5)
    assert caught.value.translation_key == "password_required"
