"""Pulse-input binary sensors (v4)."""

from __future__ import annotations

import pytest
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V4_ADDRESS, entity_id_of


def _inputs(hass: HomeAssistant) -> list[str]:
    states = []
    for pulse_input in (1, 2, 3):
        state = hass.states.get(
            entity_id_of(hass, "binary_sensor", V4_ADDRESS, f"pulse_input_{pulse_input}")
        )
        assert state is not None
        states.append(state.state)
    return states


async def test_inputs_follow_the_meter(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    # The simulated meter has input 2 pulled low (contact closed).
    assert _inputs(hass) == [STATE_OFF, STATE_ON, STATE_OFF]
    ekm_simulator.meters[V4_ADDRESS].inputs_low = [True, False, True]
    await init_integration.runtime_data.coordinator.async_refresh()
    assert _inputs(hass) == [STATE_ON, STATE_OFF, STATE_ON]


@pytest.mark.usefixtures("init_integration")
async def test_input_state_is_translated(hass: HomeAssistant) -> None:
    state = hass.states.get(entity_id_of(hass, "binary_sensor", V4_ADDRESS, "pulse_input_2"))
    assert state is not None
    assert state.attributes["friendly_name"].endswith("Pulse input 2")
