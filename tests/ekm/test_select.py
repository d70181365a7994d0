"""Setting selects: CT ratio, demand period, demand auto-reset and pulse-output ratio."""

from __future__ import annotations

import pytest
from homeassistant.components.select import ATTR_OPTION, ATTR_OPTIONS, SERVICE_SELECT_OPTION
from homeassistant.components.select import DOMAIN as SELECT_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er

from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V3_ADDRESS, V4_ADDRESS, V4_OTHER, entity_id_of


def _state(hass: HomeAssistant, address: str, key: str) -> str:
    state = hass.states.get(entity_id_of(hass, SELECT_DOMAIN, address, key))
    assert state is not None
    return state.state


async def _select(hass: HomeAssistant, address: str, key: str, option: str) -> None:
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id_of(hass, SELECT_DOMAIN, address, key), ATTR_OPTION: option},
        blocking=True,
    )


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("key", "before", "option", "attribute", "written"),
    [
        ("ct_ratio", "200", "1500", "ct_ratio", 1500),
        ("max_demand_period", "15", "60", "demand_period", 3),
        ("max_demand_auto_reset", "off", "daily", "demand_auto_reset", 3),
        ("pulse_output_ratio", "800", "1600", "cf_ratio", 1600),
    ],
)
async def test_selects_write_the_meter_and_show_its_answer(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    key: str,
    before: str,
    option: str,
    attribute: str,
    written: int,
) -> None:
    assert _state(hass, V4_ADDRESS, key) == before
    await _select(hass, V4_ADDRESS, key, option)
    assert getattr(ekm_simulator.meters[V4_ADDRESS], attribute) == written
    assert _state(hass, V4_ADDRESS, key) == option


@pytest.mark.usefixtures("init_integration")
async def test_v3_meters_have_ct_ratio_and_demand_period(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    await _select(hass, V3_ADDRESS, "max_demand_period", "30")
    assert ekm_simulator.meters[V3_ADDRESS].demand_period == 2
    assert _state(hass, V3_ADDRESS, "max_demand_period") == "30"
    registry = er.async_get(hass)
    assert not registry.async_get_entity_id(SELECT_DOMAIN, "meterlink", f"{V3_ADDRESS}_cf_ratio")
    entry = registry.async_get(entity_id_of(hass, SELECT_DOMAIN, V3_ADDRESS, "ct_ratio"))
    assert entry is not None
    assert entry.entity_category is EntityCategory.CONFIG


@pytest.mark.usefixtures("init_integration")
async def test_options_are_the_meters_sizes(hass: HomeAssistant) -> None:
    state = hass.states.get(entity_id_of(hass, SELECT_DOMAIN, V4_ADDRESS, "ct_ratio"))
    assert state is not None
    assert state.attributes[ATTR_OPTIONS][:3] == ["100", "200", "400"]
    with pytest.raises(ServiceValidationError):
        await _select(hass, V4_ADDRESS, "ct_ratio", "250")


@pytest.mark.usefixtures("init_integration")
async def test_a_setting_the_meter_does_not_know_shows_unknown(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator
) -> None:
    ekm_simulator.meters[V4_OTHER].cf_ratio = 123  # not one of EKM's ratios
    await hass.services.async_call(
        "meterlink",
        "read_meter",
        {"device_id": _device_id(hass, V4_OTHER)},
        blocking=True,
        return_response=True,
    )
    assert _state(hass, V4_OTHER, "pulse_output_ratio") == "unknown"


def _device_id(hass: HomeAssistant, address: str) -> str:
    entry = er.async_get(hass).async_get(entity_id_of(hass, SELECT_DOMAIN, address, "ct_ratio"))
    assert entry is not None
    assert entry.device_id is not None
    return entry.device_id
