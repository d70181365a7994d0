"""The meter actions: read_meter, set_relay and set_meter_clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import probatio
import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from simulator.ekm.rs485 import EkmBusSimulator

from ..conftest import V3_ADDRESS, V4_ADDRESS, V4_OTHER, entity_id_of, served_truth

# State_Watts_Dir codes in which line n exports (EKM's direction table: F import, R export).
_REVERSED = {1: (4, 6, 7, 8), 2: (3, 5, 7, 8), 3: (2, 5, 6, 8)}


def _device_id(hass: HomeAssistant, entry: MockConfigEntry, address: str) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, address), entry.entry_id)
    assert device is not None
    return device.id


async def _call(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, response: bool = False
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


def _state(hass: HomeAssistant, platform: str, address: str, key: str) -> str:
    state = hass.states.get(entity_id_of(hass, platform, address, key))
    assert state is not None
    return state.state


@pytest.mark.parametrize("address", [V4_ADDRESS, V3_ADDRESS])
async def test_read_meter_returns_a_fresh_reading(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
    address: str,
) -> None:
    ekm_simulator.meters[address].advance(600)
    served = len(ekm_simulator.served)
    response = await _call(
        hass,
        "read_meter",
        {"device_id": _device_id(hass, init_integration, address)},
        response=True,
    )
    assert len(ekm_simulator.served) > served
    truth = served_truth(ekm_simulator, address)
    assert (response["address"], response["version"]) == (address, truth.version.value)
    assert response["model"] == truth.model_name
    assert response["raw"] == dict(truth.fields)
    # The fresh reading is published too.
    assert float(_state(hass, "sensor", address, "import_energy")) == truth.import_kwh
    # Every value says what the entity with that key shows, in the entity's unit.
    values, units = response["values"], response["units"]
    registry = er.async_get(hass)
    compared = 0
    for entry in er.async_entries_for_config_entry(registry, init_integration.entry_id):
        key = entry.unique_id.removeprefix(f"{address}_")
        if not entry.unique_id.startswith(f"{address}_") or entry.domain == "button":
            continue
        state = hass.states.get(entry.entity_id)
        assert key in values, key
        if state is None or state.state in ("unknown", "unavailable"):
            continue
        shown: Any = state.state
        if entry.domain in ("binary_sensor", "switch"):
            shown = state.state == "on"
        answered = values[key]
        if isinstance(answered, float | int) and not isinstance(answered, bool):
            assert float(shown) == answered, key
        else:
            assert shown == answered, key
        if key != "max_demand_period":  # the select shows its minutes without a unit
            assert units.get(key) == state.attributes.get("unit_of_measurement"), key
        compared += 1
    assert compared >= 5


async def test_read_meter_answers_physical_values_not_ekm_codes(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    """Issue 13 #10: signed power factors, demand period in minutes, meter time as ISO 8601."""
    response = await _call(
        hass,
        "read_meter",
        {"device_id": _device_id(hass, init_integration, V4_ADDRESS)},
        response=True,
    )
    values, units, raw = response["values"], response["units"], response["raw"]
    for line in (1, 2, 3):
        code = raw[f"Power_Factor_Ln_{line}"]
        factor = values[f"line_{line}_power_factor"]
        assert -1 <= factor <= 1
        # EKM codes above 100 are leading (capacitive): negative, as the sensor shows.
        assert (factor < 0) == (code > 100)
        assert abs(factor) == pytest.approx(min(code, 200 - code) / 100)
        sign = -1 if raw["State_Watts_Dir"] in _REVERSED[line] else 1
        assert values[f"line_{line}_power"] == sign * raw[f"RMS_Watts_Ln_{line}"]
    assert values["max_demand_period"] == {1: 15, 2: 30, 3: 60}[raw["Max_Demand_Period"]]
    assert units["max_demand_period"] == "min"
    meter_time = datetime.fromisoformat(values["meter_time"])
    assert meter_time.tzinfo is not None
    assert meter_time.strftime("%y%m%d") == raw["Meter_Time"][:6]
    assert values["import_energy"] == pytest.approx(raw["kWh_Tot"] - raw["Rev_kWh_Tot"])
    assert units["import_energy"] == "kWh"
    assert "Power_Factor_Ln_1" not in values
    assert "fields" not in response


async def test_set_relay_returns_the_confirmed_states(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    device_id = _device_id(hass, init_integration, V4_ADDRESS)
    response = await _call(
        hass,
        "set_relay",
        {"device_id": device_id, "relay": 2, "state": "close"},
        response=True,
    )
    assert response == {"relay_1": "open", "relay_2": "closed"}
    assert ekm_simulator.meters[V4_ADDRESS].relays == [False, True]
    assert _state(hass, "switch", V4_ADDRESS, "relay_2") == "on"
    assert (
        await _call(hass, "set_relay", {"device_id": device_id, "relay": "2", "state": "open"})
        is None
    )
    assert ekm_simulator.meters[V4_ADDRESS].relays == [False, False]


async def test_set_relay_for_a_while(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    meter = ekm_simulator.meters[V4_ADDRESS]
    await _call(
        hass,
        "set_relay",
        {
            "device_id": _device_id(hass, init_integration, V4_ADDRESS),
            "relay": 1,
            "state": "close",
            "seconds": 30,
        },
    )
    assert meter.relays[0] is True
    meter.advance(31)  # the meter switches back on its own
    await init_integration.runtime_data.coordinator.async_refresh()
    assert _state(hass, "switch", V4_ADDRESS, "relay_1") == "off"


async def test_set_relay_on_a_v3_meter_is_refused(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    served = len(ekm_simulator.served)
    with pytest.raises(ServiceValidationError) as caught:
        await _call(
            hass,
            "set_relay",
            {
                "device_id": _device_id(hass, init_integration, V3_ADDRESS),
                "relay": 1,
                "state": "close",
            },
        )
    assert caught.value.translation_key == "not_supported"
    assert len(ekm_simulator.served) == served  # nothing was sent


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"relay": 3, "state": "close"}, "relay"),
        ({"relay": 1, "state": "toggle"}, "state"),
        ({"relay": 1, "state": "close", "seconds": 10000}, "seconds"),
        ({"relay": 1, "state": "close", "seconds": -1}, "seconds"),
    ],
)
async def test_set_relay_rejects_invalid_input(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(probatio.Invalid, match=key):
        await _call(
            hass,
            "set_relay",
            {"device_id": _device_id(hass, init_integration, V4_ADDRESS), **data},
        )
    assert ekm_simulator.meters[V4_ADDRESS].relays == [False, False]


async def test_set_relay_needs_the_password(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _call(
            hass,
            "set_relay",
            {
                "device_id": _device_id(hass, init_integration, V4_OTHER),
                "relay": 1,
                "state": "close",
            },
        )
    assert caught.value.translation_key == "password_required"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("2026-05-01 08:00:00", datetime(2026, 5, 1, 8, 0, 0)),  # local wall time
        ("2026-05-01T06:00:00+00:00", datetime(2026, 5, 1, 8, 0, 0)),  # converted
    ],
)
async def test_set_meter_clock(
    hass: HomeAssistant,
    ekm_simulator: EkmBusSimulator,
    init_integration: MockConfigEntry,
    given: str,
    written: datetime,
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    await _call(
        hass,
        "set_meter_clock",
        {"device_id": _device_id(hass, init_integration, V3_ADDRESS), "datetime": given},
    )
    assert ekm_simulator.meters[V3_ADDRESS].clock == written
    assert _state(hass, "sensor", V3_ADDRESS, "meter_time") == "2026-05-01T06:00:00+00:00"


async def test_set_meter_clock_defaults_to_now(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    ekm_simulator.meters[V4_ADDRESS].clock = datetime(2001, 1, 1)
    await _call(
        hass, "set_meter_clock", {"device_id": _device_id(hass, init_integration, V4_ADDRESS)}
    )
    assert ekm_simulator.meters[V4_ADDRESS].clock.year > 2001


async def test_set_meter_clock_outside_the_meters_range(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _call(
            hass,
            "set_meter_clock",
            {
                "device_id": _device_id(hass, init_integration, V4_ADDRESS),
                "datetime": "2100-01-01 00:00:00",
            },
        )
    assert caught.value.translation_key == "invalid_clock"


async def test_unknown_devices_are_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "read_meter", {"device_id": "nope"}, response=True)
    assert caught.value.translation_key == "device_not_found"

    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "x")}
    )
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "read_meter", {"device_id": device.id}, response=True)
    assert caught.value.translation_key == "device_not_found"

    # A device of ours whose meter is no longer configured.
    stale = dr.async_get(hass).async_get_or_create(
        config_entry_id=init_integration.entry_id, identifiers={(DOMAIN, "000999999999")}
    )
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "read_meter", {"device_id": stale.id}, response=True)
    assert caught.value.translation_key == "meter_not_configured"


async def test_a_bus_that_is_not_loaded_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    device_id = _device_id(hass, init_integration, V4_ADDRESS)
    await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, "read_meter", {"device_id": device_id}, response=True)
    assert caught.value.translation_key == "entry_not_loaded"


async def test_read_meter_on_a_dead_bus(
    hass: HomeAssistant, ekm_simulator: EkmBusSimulator, init_integration: MockConfigEntry
) -> None:
    await ekm_simulator.stop()
    with pytest.raises(HomeAssistantError) as caught:
        await _call(
            hass,
            "read_meter",
            {"device_id": _device_id(hass, init_integration, V4_ADDRESS)},
            response=True,
        )
    assert caught.value.translation_key == "communication_error"
    assert "00000000" not in str(caught.value)


async def test_actions_exist_without_a_loaded_bus(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    for service in ("read_meter", "set_relay", "set_meter_clock"):
        assert hass.services.has_service(DOMAIN, service)
    registry = er.async_get(hass)
    assert not registry.entities
