"""Voice: "turn on <relay>" through Home Assistant's conversation agent closes the relay."""

from __future__ import annotations

from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .cloud_sim import RELAY_METER, CloudSim
from .conftest import switch_id


async def test_turn_on_a_relay_by_voice(
    hass: HomeAssistant, cloud_sim: CloudSim, cloud_entry: MockConfigEntry
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    entity_id = switch_id(hass, cloud_entry, f"{RELAY_METER}_relay_1")
    assert entity_id is not None
    async_expose_entity(hass, "conversation", entity_id, True)
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_OFF
    name = state.attributes["friendly_name"]

    result = await hass.services.async_call(
        "conversation",
        "process",
        {"text": f"turn on {name}", "language": "en"},
        blocking=True,
        return_response=True,
    )

    assert result is not None
    assert result["response"]["response_type"] == "action_done", result
    assert [target["name"] for target in result["response"]["data"]["success"]] == [name]
    assert cloud_sim.push.meters[RELAY_METER].relays == [True, False]
    sent = cloud_sim.device_api.commands[-1]
    assert (sent.target_id, sent.command, sent.params["status"]) == (
        RELAY_METER,
        "SetRelay",
        "close",
    )
    assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]
