"""Relay switches: writes go to the meter, the state comes back from the meter."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V4_ADDRESS, V4_OTHER, ConfigEntryBuilder, entity_id_of, setup_entry


def _relay(hass: HomeAssistant, address: str, relay: int) -> str:
    return entity_id_of(hass, SWITCH_DOMAIN, address, f"relay_{relay}")


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def _switch(hass: HomeAssistant, entity_id: str, service: str) -> None:
    await hass.services.async_call(
        SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )


@pytest.mark.usefixtures("init_integration")
async def test_relays_follow_the_meter(hass: HomeAssistant, ekm_simulator: EkmBusSimulator) -> None:
    meter = ekm_simulator.meters[V4_ADDRESS]
    relay_1, relay_2 = _relay(hass, V4_ADDRESS, 1), _relay(hass, V4_ADDRESS, 2)
    assert (_state(hass, relay_1), _state(hass, relay_2)) == (STATE_OFF, STATE_OFF)

    await _switch(hass, relay_1, SERVICE_TURN_ON)
    assert meter.relays == [True, False]
    assert (_state(hass, relay_1), _state(hass, relay_2)) == (STATE_ON, STATE_OFF)
    assert ekm_simulator.last_served[V4_ADDRESS]["State_Out"] == 3  # read back, not assumed

    await _switch(hass, relay_2, SERVICE_TURN_ON)
    await _switch(hass, relay_1, SERVICE_TURN_OFF)
    assert meter.relays == [False, True]
    assert (_state(hass, relay_1), _state(hass, relay_2)) == (STATE_OFF, STATE_ON)


@pytest.mark.usefixtures("init_integration")
async def test_state_is_never_optimistic(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A meter that acknowledges the write but keeps its relay as it was.
    monkeypatch.setattr(ekm_simulator.meters[V4_ADDRESS], "apply", lambda code, data: True)
    relay_1 = _relay(hass, V4_ADDRESS, 1)
    await _switch(hass, relay_1, SERVICE_TURN_ON)
    assert _state(hass, relay_1) == STATE_OFF


@pytest.mark.usefixtures("init_integration")
async def test_a_meter_without_password_refuses_to_switch(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _switch(hass, _relay(hass, V4_OTHER, 1), SERVICE_TURN_ON)
    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == "password_required"
    assert str(caught.value).startswith(f"Meter {V4_OTHER} has no password configured.")
    assert ekm_simulator.meters[V4_OTHER].relays == [False, False]


async def test_a_wrong_password_asks_for_the_right_one(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    ekm_simulator.meters[V4_ADDRESS].password = "12345678"  # changed behind our back
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, _relay(hass, V4_ADDRESS, 1), SERVICE_TURN_ON)
    assert caught.value.translation_key == "invalid_password"
    assert "12345678" not in str(caught.value)
    assert ekm_simulator.meters[V4_ADDRESS].relays == [False, False]
    await hass.async_block_till_done()
    flows = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]
    assert len(flows) == 1
    assert flows[0]["context"]["entry_id"] == init_integration.entry_id


@pytest.mark.usefixtures("init_integration")
async def test_an_unacknowledged_write_fails(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ekm_simulator.meters[V4_ADDRESS], "apply", lambda code, data: False)
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, _relay(hass, V4_ADDRESS, 1), SERVICE_TURN_ON)
    assert caught.value.translation_key == "command_failed"
    assert _state(hass, _relay(hass, V4_ADDRESS, 1)) == STATE_OFF


@pytest.mark.usefixtures("init_integration")
async def test_a_write_that_cannot_be_read_back(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter = ekm_simulator.meters[V4_ADDRESS]
    apply = meter.apply

    def apply_then_vanish(code: str, data: str) -> Any:
        del ekm_simulator.meters[V4_ADDRESS]  # acknowledges, then never answers again
        return apply(code, data)

    monkeypatch.setattr(meter, "apply", apply_then_vanish)
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, _relay(hass, V4_ADDRESS, 1), SERVICE_TURN_ON)
    assert caught.value.translation_key == "command_unconfirmed"
    assert meter.relays[0] is True
    assert _state(hass, _relay(hass, V4_ADDRESS, 1)) == STATE_UNAVAILABLE
    # The other meters keep their readings.
    assert _state(hass, _relay(hass, V4_OTHER, 1)) == STATE_OFF


@pytest.mark.usefixtures("init_integration")
async def test_a_dead_bus_is_a_communication_error(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    await ekm_simulator.stop()
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, _relay(hass, V4_ADDRESS, 1), SERVICE_TURN_ON)
    assert caught.value.translation_key == "communication_error"


async def test_a_malformed_password_is_refused_before_sending(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, make_config_entry: ConfigEntryBuilder
) -> None:
    entry = await setup_entry(hass, make_config_entry([(V4_ADDRESS, MeterVersion.V4, "1234")]))
    served = len(ekm_simulator.served)
    with pytest.raises(ServiceValidationError) as caught:
        await _switch(hass, _relay(hass, V4_ADDRESS, 1), SERVICE_TURN_ON)
    assert caught.value.translation_key == "invalid_command"
    assert "1234" not in str(caught.value)
    assert len(ekm_simulator.served) == served
    await hass.config_entries.async_unload(entry.entry_id)
