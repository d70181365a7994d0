"""Relay and ioStack output switches of an EKM Push entry, switched through sendCommand."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from homeassistant.const import (
    ATTR_ENTITY_ID,
    CONF_API_KEY,
    CONF_API_TOKEN,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.const import CONF_PASSWORD, CONF_SCAN_INTERVAL, DOMAIN
from custom_components.meterlink.push.flow import CONF_DEVICES
from custom_components.meterlink.push.triggers import TRIGGER_REFRESH

from .cloud_sim import (
    IOSTACK,
    OTHER_V4,
    READ_TOKEN,
    RELAY_METER,
    V3_METER,
    WRITE_TOKEN,
    CloudSim,
)
from .conftest import CloudEntryBuilder, device_id_of, setup_cloud_entry, switch_id


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def _switch(hass: HomeAssistant, service: str, entity_id: str) -> None:
    await hass.services.async_call("switch", service, {ATTR_ENTITY_ID: entity_id}, blocking=True)


async def _next_reading(hass: HomeAssistant) -> None:
    """Let the cloud (and trigger) coordinators poll again."""
    async_fire_time_changed(hass, dt_util.utcnow() + TRIGGER_REFRESH + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)


def _relay(hass: HomeAssistant, entry: MockConfigEntry, address: str, number: int) -> str:
    entity_id = switch_id(hass, entry, f"{address}_relay_{number}")
    assert entity_id is not None
    return entity_id


async def test_switches_exist_for_v4_relays_and_iostack_outputs(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    for address in (RELAY_METER, OTHER_V4):
        for number in (1, 2):
            entity_id = _relay(hass, cloud_entry, address, number)
            assert _state(hass, entity_id) == STATE_OFF
            entity = registry.async_get(entity_id)
            assert entity is not None
            assert entity.device_id == device_id_of(hass, cloud_entry, address)
    for number in (1, 2):
        assert switch_id(hass, cloud_entry, f"{V3_METER}_relay_{number}") is None
    outputs = cloud_sim.push.iostacks[IOSTACK].outputs
    for pin in (1, 2, 3, 4):
        entity_id = switch_id(hass, cloud_entry, f"{IOSTACK}_output_{pin}")
        assert entity_id is not None
        assert _state(hass, entity_id) == (STATE_ON if outputs[pin - 1] else STATE_OFF)


async def test_relay_switch_closes_the_relay_and_shows_the_confirmed_state(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    entity_id = _relay(hass, cloud_entry, RELAY_METER, 1)
    await _switch(hass, "turn_on", entity_id)
    meter = cloud_sim.push.meters[RELAY_METER]
    assert meter.relays == [True, False]
    sent = cloud_sim.device_api.commands[-1]
    assert (sent.command, sent.params["relay"], sent.params["status"]) == (
        "SetRelay",
        "Relay_1",
        "close",
    )
    assert cloud_sim.device_api.answers[sent.msg_id]["success"] is True
    assert _state(hass, entity_id) == STATE_ON
    await _next_reading(hass)  # the reading agrees
    assert _state(hass, entity_id) == STATE_ON
    await _switch(hass, "turn_off", entity_id)
    assert meter.relays == [False, False]
    assert _state(hass, entity_id) == STATE_OFF


async def test_a_relay_changed_elsewhere_shows_with_the_next_reading(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    entity_id = _relay(hass, cloud_entry, RELAY_METER, 2)
    await _switch(hass, "turn_on", entity_id)
    cloud_sim.push.meters[RELAY_METER].relays[1] = False  # a trigger or the portal opened it
    assert _state(hass, entity_id) == STATE_ON
    await _next_reading(hass)
    assert _state(hass, entity_id) == STATE_OFF


async def test_nothing_is_assumed_without_the_devices_answer(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    entity_id = _relay(hass, cloud_entry, RELAY_METER, 1)
    cloud_sim.device_api.delay_for = lambda _sent: None
    settings = cloud_entry.runtime_data.settings
    settings.answer_timeout = 0.3
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, "turn_on", entity_id)
    assert caught.value.translation_key == "device_api_answer_timeout"
    assert _state(hass, entity_id) == STATE_OFF


async def test_a_refused_command_leaves_the_state(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    entity_id = _relay(hass, cloud_entry, RELAY_METER, 1)
    cloud_sim.push.meters[RELAY_METER].password = "87654321"
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, "turn_on", entity_id)
    assert caught.value.translation_key == "device_api_command_failed"
    assert _state(hass, entity_id) == STATE_OFF


async def test_iostack_output_switch(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    outputs = cloud_sim.push.iostacks[IOSTACK].outputs
    entity_id = switch_id(hass, cloud_entry, f"{IOSTACK}_output_3")
    assert entity_id is not None
    await _switch(hass, "turn_on", entity_id)
    assert outputs[2] == 1
    assert _state(hass, entity_id) == STATE_ON
    await _next_reading(hass)
    assert _state(hass, entity_id) == STATE_ON
    await _switch(hass, "turn_off", entity_id)
    assert outputs[2] == 0
    assert _state(hass, entity_id) == STATE_OFF


async def test_a_command_action_updates_the_switch(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    entity_id = _relay(hass, cloud_entry, OTHER_V4, 2)
    await hass.services.async_call(
        DOMAIN,
        "send_command",
        {
            "device_id": device_id_of(hass, cloud_entry, OTHER_V4),
            "command": "SetRelay",
            "params": {"relay": "relay_2", "status": "close", "duration": 0},
        },
        blocking=True,
    )
    assert cloud_sim.push.meters[OTHER_V4].relays == [False, True]
    assert _state(hass, entity_id) == STATE_ON
    assert _state(hass, _relay(hass, cloud_entry, OTHER_V4, 1)) == STATE_OFF


@pytest.mark.parametrize("token", [None, READ_TOKEN])
async def test_no_switches_without_a_write_token(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    make_cloud_entry: CloudEntryBuilder,
    token: str | None,
) -> None:
    entry = await setup_cloud_entry(hass, make_cloud_entry(token))
    cloud_sim.device_api.triggers["0" * 32] = (
        "4016fa0500cd",
        {"trigger_uuid": "0" * 32, "trigger_name": "t", "conditions": [], "actions": []},
    )
    await _next_reading(hass)
    assert hass.states.async_entity_ids("switch") == []
    await hass.config_entries.async_unload(entry.entry_id)


async def test_switches_wait_until_the_api_says_the_token_may_write(
    hass: HomeAssistant, cloud_sim: CloudSim, make_cloud_entry: CloudEntryBuilder
) -> None:
    cloud_sim.refuse["/api/trigger"] = 503  # the Trigger API is down at start-up
    entry = await setup_cloud_entry(hass, make_cloud_entry())
    assert hass.states.async_entity_ids("switch") == []
    await _next_reading(hass)  # still down: asked again, still nothing offered
    assert hass.states.async_entity_ids("switch") == []
    del cloud_sim.refuse["/api/trigger"]
    await _next_reading(hass)
    assert switch_id(hass, entry, f"{RELAY_METER}_relay_1") is not None
    assert switch_id(hass, entry, f"{IOSTACK}_output_1") is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_missing_trigger_api_is_not_write_permission(
    hass: HomeAssistant, cloud_sim: CloudSim, make_cloud_entry: CloudEntryBuilder
) -> None:
    cloud_sim.refuse["/api/trigger"] = 404  # a 404 page, not the Trigger API's "not found"
    entry = await setup_cloud_entry(hass, make_cloud_entry())
    assert hass.states.async_entity_ids("switch") == []
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_token_added_later_brings_the_switches(
    hass: HomeAssistant, cloud_sim: CloudSim, make_cloud_entry: CloudEntryBuilder
) -> None:
    entry = await setup_cloud_entry(hass, make_cloud_entry(None))
    assert hass.states.async_entity_ids("switch") == []
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_API_KEY: cloud_sim.account_key, CONF_API_TOKEN: WRITE_TOKEN},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    entity_id = switch_id(hass, entry, f"{RELAY_METER}_relay_1")
    assert entity_id is not None
    await _switch(hass, "turn_on", entity_id)
    assert cloud_sim.push.meters[RELAY_METER].relays == [True, False]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_say_what_the_token_may_do(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud_sim: CloudSim,
    cloud_entry: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, cloud_entry)
    assert diagnostics["device_settings"] == {
        "token_access": "write",
        "triggers": len(cloud_sim.device_api.triggers),
        "trigger_list_ok": True,
    }
    text = json.dumps(diagnostics)
    assert WRITE_TOKEN not in text
    assert cloud_sim.account_key not in text


async def test_a_meter_with_its_own_password_needs_it_in_the_options(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    meter = cloud_sim.push.meters[RELAY_METER]
    meter.password = "24681357"
    entity_id = _relay(hass, cloud_entry, RELAY_METER, 1)
    with pytest.raises(HomeAssistantError):
        await _switch(hass, "turn_on", entity_id)
    assert meter.relays == [False, False]
    assert "meter_password" not in cloud_sim.device_api.commands[-1].params

    devices = list(cloud_entry.runtime_data.coordinator.inventory.devices)
    flow = await hass.config_entries.options.async_init(cloud_entry.entry_id)
    answer = {CONF_SCAN_INTERVAL: 60, CONF_DEVICES: devices}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {**answer, CONF_PASSWORD: "2468"}
    )
    assert result["errors"] == {CONF_PASSWORD: "invalid_password_format"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {**answer, CONF_PASSWORD: "24681357"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    await _switch(hass, "turn_on", entity_id)
    assert meter.relays == [True, False]
    assert cloud_sim.device_api.commands[-1].params["meter_password"] == "24681357"
    # Left empty later, the password stays.
    flow = await hass.config_entries.options.async_init(cloud_entry.entry_id)
    result = await hass.config_entries.options.async_configure(flow["flow_id"], answer)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert cloud_entry.options[CONF_PASSWORD] == "24681357"
