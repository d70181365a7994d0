"""Gateway triggers: the trigger actions and the trigger switches, against the simulated API."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.push.triggers import TRIGGER_REFRESH

from .cloud_sim import GATEWAY, IOSTACK, READ_TOKEN, RELAY_METER, SECOND_GATEWAY, CloudSim
from .conftest import CloudEntryBuilder, device_id_of, setup_cloud_entry, switch_id

DATA_CONDITION = {
    "type": "data",
    "source": "meter",
    "source_id": RELAY_METER,
    "field": "RMS_Watts_Tot",
    "threshold_test": ">",
    "threshold_value": 5000,
    "duration": 60,
}
SCHEDULE = {  # the seed's own example (seed 001, "RRULE Condition")
    "type": "rrule",
    "rrule": "DTSTART:20210702T173200\nRRULE:FREQ=DAILY;BYHOUR=0;BYMINUTE=35;BYSECOND=0",
}
CLOSE_RELAY = {
    "target": "meter",
    "target_id": RELAY_METER,
    "command": "SetRelay",
    "params": {"relay": "Relay_1", "status": "close", "duration": 0},
}
NEW_TRIGGER = {
    "trigger_name": "Relay 1 above 5 kW",
    "conditions": [DATA_CONDITION],
    "actions": [CLOSE_RELAY],
}


async def _call(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, response: bool = True
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def _refresh(hass: HomeAssistant) -> None:
    """Let the trigger list be fetched again, as it is every few minutes."""
    async_fire_time_changed(hass, dt_util.utcnow() + TRIGGER_REFRESH + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)


def _writes(cloud_sim: CloudSim) -> int:
    return sum(
        1
        for request in cloud_sim.device_api.requests
        if request.path == "/api/trigger" and request.method != "GET"
    )


def _trigger_switch(hass: HomeAssistant, entry: MockConfigEntry, trigger_uuid: str) -> str:
    entity_id = switch_id(hass, entry, f"trigger_{trigger_uuid}")
    assert entity_id is not None
    return entity_id


async def test_trigger_lifecycle_through_the_actions(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    gateway_device = device_id_of(hass, cloud_entry, GATEWAY)
    created = await _call(hass, "create_trigger", {"device_id": gateway_device, **NEW_TRIGGER})
    trigger_uuid = created["trigger_uuid"]
    stored_gateway, stored = cloud_sim.device_api.triggers[trigger_uuid]
    assert stored_gateway == GATEWAY
    assert created == {**stored, "gateway": GATEWAY}
    assert stored["conditions"] == [DATA_CONDITION]
    assert stored["actions"] == [CLOSE_RELAY]

    # Its switch appears at once, on the gateway's device, enabled.
    entity_id = _trigger_switch(hass, cloud_entry, trigger_uuid)
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["conditions"] == stored["conditions"]
    assert state.attributes["actions"] == stored["actions"]
    assert state.attributes["trigger_uuid"] == trigger_uuid
    entity = er.async_get(hass).async_get(entity_id)
    assert entity is not None
    assert entity.device_id == gateway_device

    listed = await _call(hass, "list_triggers", {"config_entry_id": cloud_entry.entry_id})
    assert listed == {"triggers": [{**stored, "gateway": GATEWAY}]}
    fetched = await _call(
        hass, "get_trigger", {"device_id": gateway_device, "trigger_uuid": trigger_uuid}
    )
    assert fetched == {**stored, "gateway": GATEWAY}

    updated = await _call(
        hass,
        "update_trigger",
        {
            "config_entry_id": cloud_entry.entry_id,
            "trigger_uuid": trigger_uuid,
            "trigger_name": "Morning relay",
            "conditions": [SCHEDULE],
            "enabled": False,
        },
    )
    _gateway, stored = cloud_sim.device_api.triggers[trigger_uuid]
    assert updated == {**stored, "gateway": GATEWAY}
    assert stored["trigger_name"] == "Morning relay"
    assert stored["enabled"] is False
    assert stored["actions"] == [CLOSE_RELAY]  # unchanged
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["conditions"] == stored["conditions"]
    assert "Morning relay" in state.attributes["friendly_name"]

    deleted = await _call(
        hass, "delete_trigger", {"device_id": gateway_device, "trigger_uuid": trigger_uuid}
    )
    assert deleted == {"trigger_uuid": trigger_uuid, "deleted": True}
    assert trigger_uuid not in cloud_sim.device_api.triggers
    await hass.async_block_till_done()
    assert switch_id(hass, cloud_entry, f"trigger_{trigger_uuid}") is None
    assert hass.states.get(entity_id) is None


async def test_actions_without_response(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    meter_device = device_id_of(hass, cloud_entry, RELAY_METER)  # a device on the gateway
    assert (
        await _call(
            hass, "create_trigger", {"device_id": meter_device, **NEW_TRIGGER}, response=False
        )
        is None
    )
    ((trigger_uuid, (gateway, _trigger)),) = cloud_sim.device_api.triggers.items()
    assert gateway == GATEWAY
    target = {"device_id": meter_device, "trigger_uuid": trigger_uuid}
    assert await _call(hass, "update_trigger", {**target, "enabled": False}, response=False) is None
    assert cloud_sim.device_api.triggers[trigger_uuid][1]["enabled"] is False
    assert await _call(hass, "delete_trigger", target, response=False) is None
    assert cloud_sim.device_api.triggers == {}


async def test_trigger_switch_enables_and_disables(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    created = await _call(
        hass, "create_trigger", {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER}
    )
    entity_id = _trigger_switch(hass, cloud_entry, created["trigger_uuid"])
    stored = cloud_sim.device_api.triggers[created["trigger_uuid"]][1]
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True)
    stored = cloud_sim.device_api.triggers[created["trigger_uuid"]][1]
    assert stored["enabled"] is False
    assert hass.states.get(entity_id).state == STATE_OFF  # type: ignore[union-attr]
    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: entity_id}, blocking=True)
    stored = cloud_sim.device_api.triggers[created["trigger_uuid"]][1]
    assert stored["enabled"] is True
    assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]


async def test_triggers_changed_outside_home_assistant(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    first = await _call(
        hass, "create_trigger", {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER}
    )
    second = await _call(
        hass,
        "create_trigger",
        {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER, "trigger_name": "Second"},
    )
    first_switch = _trigger_switch(hass, cloud_entry, first["trigger_uuid"])
    second_switch = _trigger_switch(hass, cloud_entry, second["trigger_uuid"])

    # In the portal: the first is renamed, disabled and given a schedule; the second removed;
    # a third created.
    store = cloud_sim.device_api.triggers
    gateway, trigger = store[first["trigger_uuid"]]
    changed = copy.deepcopy(trigger)
    changed.update(trigger_name="Renamed in the portal", enabled=False, conditions=[SCHEDULE])
    store[first["trigger_uuid"]] = (gateway, changed)
    del store[second["trigger_uuid"]]
    third_uuid = "f" * 32
    store[third_uuid] = (
        GATEWAY,
        {**copy.deepcopy(trigger), "trigger_uuid": third_uuid, "trigger_name": "Made elsewhere"},
    )
    assert hass.states.get(first_switch).state == STATE_ON  # type: ignore[union-attr]

    await _refresh(hass)
    state = hass.states.get(first_switch)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes["conditions"] == [SCHEDULE]
    assert "Renamed in the portal" in state.attributes["friendly_name"]
    assert hass.states.get(second_switch) is None
    assert switch_id(hass, cloud_entry, f"trigger_{second['trigger_uuid']}") is None
    third = hass.states.get(_trigger_switch(hass, cloud_entry, third_uuid))
    assert third is not None
    assert third.state == STATE_ON
    assert "Made elsewhere" in third.attributes["friendly_name"]


async def test_a_failed_trigger_refresh_keeps_the_switches(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    created = await _call(
        hass, "create_trigger", {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER}
    )
    entity_id = _trigger_switch(hass, cloud_entry, created["trigger_uuid"])
    tokens = dict(cloud_sim.device_api.tokens)
    cloud_sim.device_api.tokens.clear()  # the API refuses every token for a while
    await _refresh(hass)
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    cloud_sim.device_api.tokens.update(tokens)
    await _refresh(hass)
    assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"trigger_name": ""}, "trigger_name"),
        ({"conditions": []}, "conditions"),
        ({"conditions": [{**DATA_CONDITION, "threshold_test": "=~"}]}, "threshold_test"),
        ({"conditions": [{**DATA_CONDITION, "source_id": "123"}]}, "12-digit"),
        ({"conditions": [{"type": "rrule", "rrule": "FREQ=SOMETIMES"}]}, "FREQ"),
        ({"actions": [{**CLOSE_RELAY, "params": {"relay": "Relay_3"}}]}, "relay"),
        ({"actions": [{**CLOSE_RELAY, "command": "Explode"}]}, "Explode"),
        ({"actions": [{"target": "gateway", "command": "sendWebhook"}]}, "url"),
    ],
)
async def test_invalid_triggers_never_reach_the_api(
    hass: HomeAssistant,
    cloud_sim: CloudSim,
    cloud_entry: MockConfigEntry,
    changes: dict[str, Any],
    mentions: str,
) -> None:
    writes = _writes(cloud_sim)  # the token probe's harmless delete of a random uuid
    with pytest.raises(ServiceValidationError) as caught:
        await _call(
            hass,
            "create_trigger",
            {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER, **changes},
        )
    assert caught.value.translation_key == "device_api_invalid_parameter"
    assert mentions in caught.value.translation_placeholders["error"]
    with pytest.raises(ServiceValidationError):
        await _call(
            hass,
            "update_trigger",
            {"config_entry_id": cloud_entry.entry_id, "trigger_uuid": "a" * 32, **changes},
        )
    assert _writes(cloud_sim) == writes


async def test_unknown_and_malformed_trigger_ids(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    target = {"config_entry_id": cloud_entry.entry_id}
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "get_trigger", {**target, "trigger_uuid": "b" * 32})
    assert caught.value.translation_key == "device_api_trigger_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "delete_trigger", {**target, "trigger_uuid": "c" * 32})
    assert caught.value.translation_key == "device_api_trigger_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "get_trigger", {**target, "trigger_uuid": "not-a-uuid"})
    assert caught.value.translation_key == "device_api_invalid_parameter"
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "list_triggers", {**target, "gateway": "not-a-mac"})
    assert caught.value.translation_key == "device_api_invalid_parameter"
    with pytest.raises(HomeAssistantError) as caught:
        await _call(hass, "list_triggers", {**target, "gateway": "001122334455"})
    assert caught.value.translation_key == "device_api_error"  # the API does not know it


async def test_read_only_token_lists_but_never_writes(
    hass: HomeAssistant, cloud_sim: CloudSim, make_cloud_entry: CloudEntryBuilder
) -> None:
    entry = await setup_cloud_entry(hass, make_cloud_entry(READ_TOKEN))
    gateway = device_id_of(hass, entry, GATEWAY)
    stored = {
        "trigger_uuid": "d" * 32,
        "trigger_name": "Made in the portal",
        "conditions": [DATA_CONDITION],
        "actions": [CLOSE_RELAY],
        "enabled": True,
        "extras": {},
    }
    cloud_sim.device_api.triggers[stored["trigger_uuid"]] = (GATEWAY, stored)
    listed = await _call(hass, "list_triggers", {"device_id": gateway})
    assert listed == {"triggers": [{**stored, "gateway": GATEWAY}]}
    fetched = await _call(hass, "get_trigger", {"device_id": gateway, "trigger_uuid": "d" * 32})
    assert fetched["trigger_name"] == stored["trigger_name"]
    writes_before = _writes(cloud_sim)  # the token probe's harmless delete of a random uuid
    for service, data in (
        ("create_trigger", NEW_TRIGGER),
        ("update_trigger", {"trigger_uuid": "d" * 32, "enabled": False}),
        ("delete_trigger", {"trigger_uuid": "d" * 32}),
    ):
        with pytest.raises(ServiceValidationError) as caught:
            await _call(hass, service, {"device_id": gateway, **data})
        assert caught.value.translation_key == "device_api_token_read_only"
    assert _writes(cloud_sim) == writes_before
    assert cloud_sim.device_api.triggers[stored["trigger_uuid"]] == (GATEWAY, stored)
    assert hass.states.async_entity_ids("switch") == []
    await hass.config_entries.async_unload(entry.entry_id)


async def test_triggers_need_a_token(
    hass: HomeAssistant, cloud_sim: CloudSim, make_cloud_entry: CloudEntryBuilder
) -> None:
    entry = await setup_cloud_entry(hass, make_cloud_entry(None))
    for service, data in (
        ("list_triggers", {}),
        ("get_trigger", {"trigger_uuid": "d" * 32}),
        ("create_trigger", NEW_TRIGGER),
    ):
        with pytest.raises(ServiceValidationError) as caught:
            await _call(hass, service, {"config_entry_id": entry.entry_id, **data})
        assert caught.value.translation_key == "device_api_token_missing"
    assert not [r for r in cloud_sim.device_api.requests if r.path == "/api/trigger"]
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("cloud_sim", [True], indirect=True)
async def test_an_account_with_two_gateways(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    target = {"config_entry_id": cloud_entry.entry_id}
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "create_trigger", {**target, **NEW_TRIGGER})
    assert caught.value.translation_key == "device_api_gateway_required"
    assert SECOND_GATEWAY in caught.value.translation_placeholders["gateways"]
    first = await _call(hass, "create_trigger", {**target, "gateway": GATEWAY, **NEW_TRIGGER})
    # A device names its own gateway: the ioStack is on the second one.
    second = await _call(
        hass,
        "create_trigger",
        {"device_id": device_id_of(hass, cloud_entry, IOSTACK), **NEW_TRIGGER},
    )
    assert cloud_sim.device_api.triggers[first["trigger_uuid"]][0] == GATEWAY
    assert cloud_sim.device_api.triggers[second["trigger_uuid"]][0] == SECOND_GATEWAY
    listed = await _call(hass, "list_triggers", target)
    assert {(t["trigger_uuid"], t["gateway"]) for t in listed["triggers"]} == {
        (first["trigger_uuid"], GATEWAY),
        (second["trigger_uuid"], SECOND_GATEWAY),
    }
    only_second = await _call(hass, "list_triggers", {**target, "gateway": SECOND_GATEWAY})
    assert [t["trigger_uuid"] for t in only_second["triggers"]] == [second["trigger_uuid"]]
    # Each trigger's switch sits on its own gateway's device.
    registry = er.async_get(hass)
    for created, gateway in ((first, GATEWAY), (second, SECOND_GATEWAY)):
        entity = registry.async_get(_trigger_switch(hass, cloud_entry, created["trigger_uuid"]))
        assert entity is not None
        assert entity.device_id == device_id_of(hass, cloud_entry, gateway)


async def test_a_trigger_switch_reports_api_failures(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    created = await _call(
        hass, "create_trigger", {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER}
    )
    entity_id = _trigger_switch(hass, cloud_entry, created["trigger_uuid"])
    cloud_sim.refuse["/api/trigger"] = 500
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "switch", "turn_off", {ATTR_ENTITY_ID: entity_id}, blocking=True
        )
    assert caught.value.translation_key == "device_api_error"
    assert cloud_sim.device_api.triggers[created["trigger_uuid"]][1]["enabled"] is True
    assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]


async def test_a_trigger_deleted_while_home_assistant_was_away(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    kept = await _call(
        hass, "create_trigger", {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER}
    )
    gone = await _call(
        hass, "create_trigger", {"config_entry_id": cloud_entry.entry_id, **NEW_TRIGGER}
    )
    gone_switch = _trigger_switch(hass, cloud_entry, gone["trigger_uuid"])
    await hass.config_entries.async_unload(cloud_entry.entry_id)
    await hass.async_block_till_done()
    del cloud_sim.device_api.triggers[gone["trigger_uuid"]]
    assert er.async_get(hass).async_get(gone_switch) is not None
    await hass.config_entries.async_setup(cloud_entry.entry_id)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get(gone_switch) is None
    kept_switch = _trigger_switch(hass, cloud_entry, kept["trigger_uuid"])
    assert hass.states.get(kept_switch).state == STATE_ON  # type: ignore[union-attr]
