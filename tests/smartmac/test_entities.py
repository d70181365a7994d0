"""smart-MAC entities against the simulated devices: values, availability, the relay and its budget.

Expected values come from what the simulator last served (`last_numbers`, the numbers behind its
strings) and the vendor's units (energy in Wh), never from the integration's own table. Time is
the shared fake clock plus Home Assistant's scheduler, moved together by `smartmac_tick`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from homeassistant.components.sensor import (
    ATTR_STATE_CLASS,
    SensorDeviceClass,
    SensorStateClass,
)
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    CONF_PIN,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfEnergy,
    UnitOfVolume,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.meterlink.const import CONF_MODEL, CONF_SCAN_INTERVAL, DOMAIN
from custom_components.meterlink.diagnostics import async_get_config_entry_diagnostics
from custom_components.meterlink.smartmac.coordinator import (
    STALE_POLLS,
    SmartMacCoordinator,
)
from custom_components.meterlink.smartmac.descriptions import SENSORS
from custom_components.meterlink.smartmac.options import (
    CONF_RELAY_POLARITY,
    PulseKind,
    SmartMacOptions,
    conf_pulse_kind,
    conf_pulse_weight,
)
from simulator.smartmac import Offline, SimSmartMac, SmartMacSimulator

from ..conftest import setup_entry
from .conftest import (
    SMARTMAC_D101,
    SMARTMAC_D103,
    SMARTMAC_D103X,
    SMARTMAC_D105,
    SMARTMAC_MODELS,
    SmartMacClock,
    SmartMacEntryBuilder,
    smartmac_tick,
)

# The device keys each sensor reads, from the vendor doc's naming (energy in Wh).
ENERGY_KEYS = {"Wh", "rWh", "TWh", "rTWh", "Wh1", "Wh2", "Wh3", "rWh1", "rWh2", "rWh3"}


def _entity_id(hass: HomeAssistant, platform: str, devid: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"smartmac_{devid}_{key}")
    assert entity_id is not None, f"{platform} {key} of {devid} is not registered"
    return entity_id


def _state(hass: HomeAssistant, entity_id: str) -> Any:
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def _coordinator(entry: MockConfigEntry) -> SmartMacCoordinator:
    coordinator = entry.runtime_data.coordinator
    assert isinstance(coordinator, SmartMacCoordinator)
    return coordinator


def outcomes(device: SimSmartMac) -> list[str]:
    return [request.outcome for request in device.requests]


@pytest.fixture
async def unload_all(hass: HomeAssistant) -> Any:
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state.recoverable:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def expected_sensors(numbers: dict[str, float]) -> dict[str, tuple[str, float]]:
    """Description key -> (device key, value in HA's unit) for every key the device served."""
    expected: dict[str, tuple[str, float]] = {}
    for description in SENSORS:
        source = next((key for key in description.sources if key in numbers), None)
        if source is None or description.pulse_channel is not None:
            continue
        number = numbers[source]
        expected[description.key] = (source, number / 1000 if source in ENERGY_KEYS else number)
    return expected


# Every model ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("unload_all", "entity_registry_enabled_by_default")
@pytest.mark.parametrize("devid", list(SMARTMAC_MODELS))
async def test_every_served_value_is_an_entity_with_the_served_value(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    devid: str,
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(devid))
    device = smartmac_sim.devices[devid]
    for _ in range(2):  # the first reading, then a scheduled poll with grown energy registers
        numbers = dict(device.last_numbers)
        expected = expected_sensors(numbers)
        claimed = {source for source, _value in expected.values()}
        claimed |= {f"TCh{channel}" for channel in (1, 2) if f"TCh{channel}" in numbers}
        assert claimed == set(numbers), "every served key has exactly one entity"
        for key, (_source, value) in expected.items():
            state = _state(hass, _entity_id(hass, "sensor", devid, key))
            assert float(state.state) == pytest.approx(value, abs=1e-9), key
        await smartmac_tick(hass, smartmac_clock, entry.options[CONF_SCAN_INTERVAL] + 1)
        assert outcomes(device)[-1] == "ok"
    registry = er.async_get(hass)
    entities = er.async_entries_for_config_entry(registry, entry.entry_id)
    sensors = [entity for entity in entities if entity.domain == "sensor"]
    pulse_totals = [key for key in numbers if key.startswith("TCh")]
    assert len(sensors) == len(expected) + len(pulse_totals)
    relay = _state(hass, _entity_id(hass, SWITCH_DOMAIN, devid, "load_relay"))
    assert relay.state == (STATE_ON if device.relay_on else STATE_OFF)
    device_entry = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"smartmac_{devid}"), entry.entry_id
    )
    assert device_entry is not None
    assert device_entry.model == SMARTMAC_MODELS[devid][0].value
    assert device_entry.serial_number == devid
    assert device_entry.configuration_url == f"http://{smartmac_sim.host_for(devid)}/"


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize("devid", [SMARTMAC_D101, SMARTMAC_D103, SMARTMAC_D103X])
async def test_energy_is_ready_for_the_energy_dashboard(
    hass: HomeAssistant, make_smartmac_entry: SmartMacEntryBuilder, devid: str
) -> None:
    await setup_entry(hass, make_smartmac_entry(devid))
    keys = ["import_energy"] + (["export_energy"] if SMARTMAC_MODELS[devid][1] else [])
    for key in keys:
        attributes = _state(hass, _entity_id(hass, "sensor", devid, key)).attributes
        assert attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
        assert attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
        assert attributes[ATTR_UNIT_OF_MEASUREMENT] == UnitOfEnergy.KILO_WATT_HOUR


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize(
    ("kind", "weight", "device_class", "unit"),
    [
        (PulseKind.PULSES, 1.0, None, None),
        (PulseKind.ENERGY, 0.001, SensorDeviceClass.ENERGY, UnitOfEnergy.KILO_WATT_HOUR),
        (PulseKind.GAS, 0.01, SensorDeviceClass.GAS, UnitOfVolume.CUBIC_METERS),
        (PulseKind.WATER_M3, 0.001, SensorDeviceClass.WATER, UnitOfVolume.CUBIC_METERS),
        (PulseKind.WATER_L, 10.0, SensorDeviceClass.WATER, UnitOfVolume.LITERS),
    ],
)
async def test_pulse_totals_use_the_weight_and_unit_of_the_channel(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    make_smartmac_entry: SmartMacEntryBuilder,
    kind: PulseKind,
    weight: float,
    device_class: SensorDeviceClass | None,
    unit: str | None,
) -> None:
    options = {conf_pulse_kind(2): kind.value, conf_pulse_weight(2): weight}
    await setup_entry(hass, make_smartmac_entry(SMARTMAC_D105, **options))
    numbers = smartmac_sim.devices[SMARTMAC_D105].last_numbers
    total_2 = _state(hass, _entity_id(hass, "sensor", SMARTMAC_D105, "pulse_channel_2_total"))
    assert float(total_2.state) == pytest.approx(numbers["TCh2"] * weight)
    assert total_2.attributes.get(ATTR_DEVICE_CLASS) == device_class
    assert total_2.attributes.get(ATTR_UNIT_OF_MEASUREMENT) == unit
    assert total_2.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    total_1 = _state(hass, _entity_id(hass, "sensor", SMARTMAC_D105, "pulse_channel_1_total"))
    assert float(total_1.state) == numbers["TCh1"]  # channel 1 left at its default


@pytest.mark.usefixtures("unload_all")
async def test_a_model_not_known_to_the_entry_still_gives_entities(
    hass: HomeAssistant, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    built = make_smartmac_entry(SMARTMAC_D101)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=built.title,
        unique_id=built.unique_id,
        data={**built.data, CONF_MODEL: "D999"},
        options=dict(built.options),
    )
    await setup_entry(hass, entry)
    assert _state(hass, _entity_id(hass, "sensor", SMARTMAC_D101, "voltage")).state != STATE_UNKNOWN
    device_entry = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"smartmac_{SMARTMAC_D101}"), entry.entry_id
    )
    assert device_entry is not None
    assert device_entry.model is None


def test_options_that_make_no_sense_fall_back_to_defaults() -> None:
    options = SmartMacOptions.from_entry(
        {},
        {
            CONF_SCAN_INTERVAL: 1,
            CONF_RELAY_POLARITY: "sideways",
            conf_pulse_kind(1): "beer",
            conf_pulse_weight(1): -2,
        },
    )
    assert options.scan_interval == 60  # a device not known to be extended: a minute
    assert options.relay_polarity.value == "inverted"  # the default: 1 = on
    assert options.pulse[1].kind is PulseKind.PULSES
    assert options.pulse[1].weight == 1.0


# Unknown and unreadable keys ------------------------------------------------------------------


def _served_with(device: SimSmartMac, monkeypatch: pytest.MonkeyPatch, **entries: str) -> None:
    """The device adds (or replaces) entries in its answer, as another firmware might."""
    original = device.document

    def document(wall_time: int) -> str:
        body = json.loads(original(wall_time), strict=False)
        for key, value in entries.items():
            body["data"][key] = {"name": f"Firmware {key}", "unit": "kW", "value": value}
        return json.dumps(body)

    monkeypatch.setattr(device, "document", document)


@pytest.mark.usefixtures("unload_all")
async def test_keys_the_table_does_not_know_become_disabled_generic_sensors(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X))
    registry = er.async_get(hass)
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"smartmac_{SMARTMAC_D103X}_raw_Q") is None
    )

    # A key appears later (firmware update) and a known one stops being a number.
    _served_with(smartmac_sim.devices[SMARTMAC_D103X], monkeypatch, Q="1.5", V1="n/a")
    await smartmac_tick(hass, smartmac_clock, entry.options[CONF_SCAN_INTERVAL] + 1)
    raw = registry.async_get(_entity_id(hass, "sensor", SMARTMAC_D103X, "raw_Q"))
    assert raw is not None
    assert raw.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert raw.unit_of_measurement == "kW"
    voltage = _state(hass, _entity_id(hass, "sensor", SMARTMAC_D103X, "line_1_voltage"))
    assert voltage.state == STATE_UNKNOWN  # never a made-up number

    registry.async_update_entity(raw.entity_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    state = _state(hass, raw.entity_id)
    assert state.state == "1.5"
    assert state.name.endswith("Firmware Q")


# Availability ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("unload_all")
async def test_nothing_is_shown_before_the_device_answered(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    await smartmac_sim.set_offline(Offline.REFUSE, SMARTMAC_D101)
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D101))
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id) == []


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize("mode", list(Offline))
async def test_offline_makes_entities_unavailable_and_back_logs_once_each_way(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    caplog: pytest.LogCaptureFixture,
    mode: Offline,
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X))
    interval = entry.options[CONF_SCAN_INTERVAL] + 1
    power = _entity_id(hass, "sensor", SMARTMAC_D103X, "power")
    relay = _entity_id(hass, SWITCH_DOMAIN, SMARTMAC_D103X, "load_relay")
    caplog.set_level(logging.INFO)

    await smartmac_sim.set_offline(mode, SMARTMAC_D103X)
    for _ in range(3):
        await smartmac_tick(hass, smartmac_clock, interval)
        assert _state(hass, power).state == STATE_UNAVAILABLE
        assert _state(hass, relay).state == STATE_UNAVAILABLE
    await smartmac_sim.set_online(SMARTMAC_D103X)
    smartmac_sim.devices[SMARTMAC_D103X].watts = [1000.0, 0.0, 0.0]
    await smartmac_tick(hass, smartmac_clock, interval)
    assert float(_state(hass, power).state) == 1000.0

    failures = [r for r in caplog.records if "Error fetching" in r.getMessage()]
    assert len(failures) == 1
    assert SMARTMAC_D103X in failures[0].getMessage()
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(recovered) == 1
    assert recovered[0].levelno == logging.INFO


async def _knock(sim: SmartMacSimulator, devid: str) -> None:
    """Another program reads the device and so uses its budget."""
    async with aiohttp.ClientSession() as session, session.get(sim.url_for(devid)) as response:
        assert response.status == 200


@pytest.mark.usefixtures("unload_all")
async def test_a_429_keeps_the_reading_until_it_is_stale_and_never_hammers(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
) -> None:
    device = smartmac_sim.devices[SMARTMAC_D103]
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103, scan_interval=90))
    coordinator = _coordinator(entry)
    power = _entity_id(hass, "sensor", SMARTMAC_D103, "power")
    shown = _state(hass, power).state
    read_at = smartmac_clock.now
    stale_after = STALE_POLLS * 90

    # Another program takes every request slot just before the integration's poll.
    while True:
        assert coordinator.update_interval is not None
        wait = coordinator.update_interval.total_seconds()
        smartmac_clock.now += wait
        await _knock(smartmac_sim, SMARTMAC_D103)
        before = len(device.requests)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=wait + 1))
        await hass.async_block_till_done(wait_background_tasks=True)
        assert outcomes(device)[before:] == ["rate-limited"]  # one request, no retry storm
        if _state(hass, power).state == STATE_UNAVAILABLE:
            break
        assert _state(hass, power).state == shown  # kept: not stale yet
        # The next poll comes when the device said (Retry-After), not at the 90 s interval.
        assert coordinator.update_interval.total_seconds() == device.interval
    # Unavailable once the reading would be stale by the time the device accepts a request.
    age = smartmac_clock.now - read_at
    assert age <= stale_after < age + device.interval

    # Left alone, the device answers the next poll and everything is back.
    await smartmac_tick(hass, smartmac_clock, device.interval + 1)
    assert outcomes(device)[-1] == "ok"
    assert _state(hass, power).state != STATE_UNAVAILABLE
    assert coordinator.update_interval.total_seconds() == 90


# The relay ------------------------------------------------------------------------------------


async def _switch(hass: HomeAssistant, entity_id: str, service: str) -> None:
    await hass.services.async_call(
        SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize("devid", list(SMARTMAC_MODELS))
async def test_the_relay_switches_within_the_budget_and_shows_what_the_device_reports(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    devid: str,
) -> None:
    device = smartmac_sim.devices[devid]
    await setup_entry(hass, make_smartmac_entry(devid))
    relay = _entity_id(hass, SWITCH_DOMAIN, devid, "load_relay")
    assert _state(hass, relay).state == STATE_OFF

    # Right after the first reading: the command waits for the budget instead of a 429.
    await _switch(hass, relay, SERVICE_TURN_ON)
    assert device.relay_on
    # By default 1 = on, for sending and reading: the vendor's annotated answer ("0-Off /
    # 1-On") and the public working client, not the vendor's request text.
    assert device.requests[-1].pout == "1"
    assert device.last_served["pout"] == "1"
    assert _state(hass, relay).state == STATE_ON

    await _switch(hass, relay, SERVICE_TURN_OFF)
    assert not device.relay_on
    assert _state(hass, relay).state == STATE_OFF

    assert outcomes(device) == ["ok", "ok", "ok"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(device.request_times)]
    assert min(gaps) >= device.interval


@pytest.mark.usefixtures("unload_all")
async def test_an_entry_that_chose_the_vendor_text_keeps_it(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    """A stored polarity is the user's choice: the new default does not override it."""
    device = smartmac_sim.devices[SMARTMAC_D103X]
    device.pout_on = "0"  # a device that follows the vendor's request text
    device.relay_on = False  # "1" on the wire
    await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X, relay_polarity="vendor"))
    relay = _entity_id(hass, SWITCH_DOMAIN, SMARTMAC_D103X, "load_relay")
    assert _state(hass, relay).state == STATE_OFF
    await _switch(hass, relay, SERVICE_TURN_ON)
    assert device.requests[-1].pout == "0"
    assert device.relay_on
    assert _state(hass, relay).state == STATE_ON


@pytest.mark.usefixtures("unload_all")
async def test_an_entry_without_a_stored_polarity_reads_1_as_on(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    """Entries store no polarity until the user picks one, so the default applies to them."""
    device = smartmac_sim.devices[SMARTMAC_D103X]
    device.relay_on = True  # "1" on the wire
    entry = make_smartmac_entry(SMARTMAC_D103X)
    assert CONF_RELAY_POLARITY not in entry.options
    await setup_entry(hass, entry)
    relay = _entity_id(hass, SWITCH_DOMAIN, SMARTMAC_D103X, "load_relay")
    assert _state(hass, relay).state == STATE_ON
    await _switch(hass, relay, SERVICE_TURN_OFF)
    assert device.requests[-1].pout == "0"
    assert _state(hass, relay).state == STATE_OFF


@pytest.mark.usefixtures("unload_all")
async def test_a_relay_state_the_device_does_not_report_is_unknown(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    make_smartmac_entry: SmartMacEntryBuilder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SimSmartMac, "pout", property(lambda _self: "2"))
    await setup_entry(hass, make_smartmac_entry(SMARTMAC_D101))
    relay = _entity_id(hass, SWITCH_DOMAIN, SMARTMAC_D101, "load_relay")
    assert _state(hass, relay).state == STATE_UNKNOWN


@pytest.mark.usefixtures("unload_all")
async def test_a_second_command_beyond_the_bounded_wait_is_refused_with_a_reason(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    device = smartmac_sim.devices[SMARTMAC_D103]
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103))
    coordinator = _coordinator(entry)
    first = asyncio.ensure_future(coordinator.async_set_relay(True))
    await asyncio.sleep(0)  # the first command now waits a minute for the budget
    with pytest.raises(HomeAssistantError) as caught:
        await coordinator.async_set_relay(False)
    assert caught.value.translation_key == "smartmac_busy"
    assert int(caught.value.translation_placeholders["seconds"]) > device.interval
    await first
    assert device.relay_on
    assert outcomes(device) == ["ok", "ok"]


@pytest.mark.usefixtures("unload_all")
async def test_a_poll_due_while_a_command_waits_does_not_queue_in_front(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
) -> None:
    device = smartmac_sim.devices[SMARTMAC_D103]
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103))
    coordinator = _coordinator(entry)
    power = _entity_id(hass, "sensor", SMARTMAC_D103, "power")
    smartmac_clock.now += 30  # half a minute since the first reading
    command = asyncio.ensure_future(coordinator.async_set_relay(True))
    await asyncio.sleep(0)
    await coordinator.async_refresh()  # a poll comes due meanwhile
    assert _state(hass, power).state != STATE_UNAVAILABLE
    await command
    assert outcomes(device) == ["ok", "ok"]
    assert device.relay_on


@pytest.mark.usefixtures("unload_all")
@pytest.mark.parametrize(("switched", "state"), [(True, STATE_ON), (False, STATE_OFF)])
async def test_an_error_answer_to_the_relay_command_is_checked_by_the_next_reading(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    monkeypatch: pytest.MonkeyPatch,
    switched: bool,
    state: str,
) -> None:
    """The documented call may answer an error although the relay switched (S7, issue #27)."""
    device = smartmac_sim.devices[SMARTMAC_D103X]
    await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X))
    relay = _entity_id(hass, SWITCH_DOMAIN, SMARTMAC_D103X, "load_relay")
    device.pout_error = 500
    if not switched:  # a device that answers the error and stays off
        monkeypatch.setattr(SimSmartMac, "pout", property(lambda _self: "0"))
    if switched:
        await _switch(hass, relay, SERVICE_TURN_ON)
    else:
        with pytest.raises(HomeAssistantError) as caught:
            await _switch(hass, relay, SERVICE_TURN_ON)
        assert caught.value.translation_key == "smartmac_relay_unconfirmed"
    assert [request.pout for request in device.requests][-2:] == ["1", None]
    assert _state(hass, relay).state == state


@pytest.mark.usefixtures("unload_all")
async def test_relay_errors_are_translated(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = smartmac_sim.devices[SMARTMAC_D103X]
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X))
    relay = _entity_id(hass, SWITCH_DOMAIN, SMARTMAC_D103X, "load_relay")

    await smartmac_sim.set_offline(Offline.REFUSE, SMARTMAC_D103X)
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, relay, SERVICE_TURN_ON)
    assert caught.value.translation_key == "smartmac_command_failed"
    await smartmac_sim.set_online(SMARTMAC_D103X)

    # The device switches, but its answer cannot be read: whether it switched is unknown.
    original = device.document
    monkeypatch.setattr(device, "document", lambda wall_time: "garbage")
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, relay, SERVICE_TURN_ON)
    assert caught.value.translation_key == "smartmac_relay_unconfirmed"
    monkeypatch.setattr(device, "document", original)

    device.pin = "999999"
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, relay, SERVICE_TURN_OFF)
    assert caught.value.translation_key == "smartmac_invalid_pin"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert flows[0]["context"]["entry_id"] == entry.entry_id


@pytest.mark.usefixtures("unload_all")
async def test_the_bus_actions_refuse_a_smartmac_device_with_a_reason(
    hass: HomeAssistant, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D101))
    device_entry = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"smartmac_{SMARTMAC_D101}"), entry.entry_id
    )
    assert device_entry is not None
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "read_meter",
            {"device_id": device_entry.id},
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "not_an_rs485_meter"


# Diagnostics ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("unload_all")
async def test_diagnostics_show_the_reading_and_the_budget_but_not_the_pin(
    hass: HomeAssistant, smartmac_sim: SmartMacSimulator, make_smartmac_entry: SmartMacEntryBuilder
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D105))
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["entry"]["data"][CONF_PIN] == "**REDACTED**"
    assert entry.data[CONF_PIN] not in json.dumps(diagnostics)
    device = smartmac_sim.devices[SMARTMAC_D105]
    assert diagnostics["reading"]["values"] == device.last_numbers
    assert diagnostics["device"]["interval"] == device.interval
    assert diagnostics["device"]["seconds_until_allowed"] == device.interval


@pytest.mark.usefixtures("unload_all")
async def test_energy_never_goes_backwards_except_a_reset_to_zero(
    hass: HomeAssistant,
    smartmac_sim: SmartMacSimulator,
    smartmac_clock: SmartMacClock,
    make_smartmac_entry: SmartMacEntryBuilder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await setup_entry(hass, make_smartmac_entry(SMARTMAC_D103X))
    interval = entry.options[CONF_SCAN_INTERVAL] + 1
    energy = _entity_id(hass, "sensor", SMARTMAC_D103X, "import_energy")
    device = smartmac_sim.devices[SMARTMAC_D103X]
    smartmac_sim.sync()
    device.watts = [0.0, 0.0, 0.0]  # energy stands still from here on
    await smartmac_tick(hass, smartmac_clock, interval)
    before = float(_state(hass, energy).state)
    assert before > 0

    # A bad read: lower, not zero. The previous total stays, with one warning.
    smartmac_sim.sync()
    device.energy_wh = [value / 2 for value in device.energy_wh]
    for _ in range(2):
        await smartmac_tick(hass, smartmac_clock, interval)
        assert device.last_numbers["TWh"] < before * 1000
        assert float(_state(hass, energy).state) == before
    warnings = [r for r in caplog.records if "lower than before" in r.getMessage()]
    assert len(warnings) == 1
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert "TWh" in diagnostics["device"]["held_counters"]

    # A reset on the device: zero is passed on, and counting resumes from there.
    smartmac_sim.sync()
    device.energy_wh = [0.0, 0.0, 0.0]
    await smartmac_tick(hass, smartmac_clock, interval)
    assert float(_state(hass, energy).state) == 0
    smartmac_sim.sync()
    device.energy_wh = [1500.0, 0.0, 0.0]
    await smartmac_tick(hass, smartmac_clock, interval)
    assert float(_state(hass, energy).state) == device.last_numbers["TWh"] / 1000 > 0
