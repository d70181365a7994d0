"""Entities of EKM Push and Push3 entries against the simulators: values, devices, faults."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_CLASS, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.ekm import descriptions as ekm
from custom_components.meterlink.meters.ekm.reading import (
    EkmReading,
    FieldValue,
    MeterVersion,
    model_name,
)
from custom_components.meterlink.push import descriptions as iostack
from custom_components.meterlink.push.coordinator import (
    CONF_EXCLUDED,
    DISCOVERY_INTERVAL,
    MIN_STALE_AFTER,
    cloud_gateway_id,
    push_runtime,
)
from simulator.ekm.meter import SimMeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator, SimIoStack

from ..conftest import V3_ADDRESS, V4_ADDRESS, setup_entry, state_matches
from .conftest import IOSTACK_ADDRESS, push3_entry, push_entry

NEW_METER = "000300009999"


def _entity_id(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, address: str, key: str
) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{entry.unique_id}_{address}_{key}"
    )
    assert entity_id is not None, f"{platform} {key} of {address}"
    return entity_id


def _device(
    registry: dr.DeviceRegistry, entry: MockConfigEntry, identifier: str
) -> dr.DeviceEntry | None:
    return registry.async_get_device_by_identifier((DOMAIN, identifier), entry.entry_id)


def _state(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, address: str, key: str
) -> str:
    state = hass.states.get(_entity_id(hass, entry, platform, address, key))
    assert state is not None
    return state.state


def _truth(simulator: PushSimulator, address: str) -> EkmReading:
    """What the gateway read last, as an RS-485 client decodes it from the meter."""
    read = simulator.newest_good(address)
    assert read is not None
    return EkmReading(address, simulator.meters[address].version, dict(read.values))


def _mismatches(hass: HomeAssistant, entry: MockConfigEntry, simulator: PushSimulator) -> list[str]:
    """Enabled meter entities whose state is not what the shared table derives from the truth."""
    wrong: list[str] = []
    registry = er.async_get(hass)
    for address in simulator.meters:
        truth = _truth(simulator, address)
        for platform, descriptions in (
            ("sensor", ekm.SENSORS),
            ("binary_sensor", ekm.BINARY_SENSORS),
        ):
            for description in descriptions:
                entity_id = registry.async_get_entity_id(
                    platform, DOMAIN, f"{entry.unique_id}_{address}_{description.key}"
                )
                if not description.exists_fn(truth.version):
                    assert entity_id is None
                    continue
                state = hass.states.get(entity_id) if entity_id else None
                if state is None:
                    continue  # disabled by default
                expected: Any = description.value_fn(truth)
                if not state_matches(state.state, expected, platform):
                    wrong.append(f"{entity_id}={state.state!r}, expected {expected!r}")
    return wrong


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let `seconds` pass: Home Assistant's clock, and the timers due within them."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def cloud_entry(hass: HomeAssistant, push_simulator: PushSimulator) -> MockConfigEntry:
    """The simulator's account, set up."""
    entry = await setup_entry(hass, push_entry(push_simulator))
    assert entry.state is ConfigEntryState.LOADED
    return entry


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_cloud_meters_show_the_shared_table(
    hass: HomeAssistant, push_simulator: PushSimulator, cloud_entry: MockConfigEntry
) -> None:
    assert _mismatches(hass, cloud_entry, push_simulator) == []
    # Energy dashboard: import and export are lifetime totals in kWh.
    for key in ("import_energy", "export_energy"):
        state = hass.states.get(_entity_id(hass, cloud_entry, "sensor", V4_ADDRESS, key))
        assert state is not None
        assert state.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
        assert state.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
    truth = _truth(push_simulator, V4_ADDRESS)
    kwh, rev = truth.number("kWh_Tot"), truth.number("Rev_kWh_Tot")
    assert kwh is not None
    assert rev is not None
    assert float(_state(hass, cloud_entry, "sensor", V4_ADDRESS, "import_energy")) == pytest.approx(
        kwh - rev
    )
    assert _state(hass, cloud_entry, "binary_sensor", V4_ADDRESS, "reporting") == STATE_ON
    read = push_simulator.newest_good(V4_ADDRESS)
    assert read is not None
    last_reading = _state(hass, cloud_entry, "sensor", V4_ADDRESS, "last_reading")
    assert dt_util.parse_datetime(last_reading) == dt_util.utc_from_timestamp(
        read.timestamp_ms // 1000
    )
    # No commands over the cloud yet: no switches, selects, numbers or buttons.
    entities = er.async_entries_for_config_entry(er.async_get(hass), cloud_entry.entry_id)
    assert {entity.domain for entity in entities} == {"sensor", "binary_sensor"}


async def test_cloud_iostack_entities(
    hass: HomeAssistant, push_simulator: PushSimulator, cloud_entry: MockConfigEntry
) -> None:
    read = push_simulator.newest_good(IOSTACK_ADDRESS)
    assert read is not None
    for description in iostack.SENSORS:
        if description.field in read.values:
            state = _state(hass, cloud_entry, "sensor", IOSTACK_ADDRESS, description.key)
            assert float(state) == float(read.values[description.field]), description.key
    for description in iostack.BINARY_SENSORS:
        if description.field in read.values:
            state = _state(hass, cloud_entry, "binary_sensor", IOSTACK_ADDRESS, description.key)
            assert state == (STATE_ON if read.values[description.field] else STATE_OFF)


class _ProbeIoStack(SimIoStack):
    """An ioStack with a field no table names."""

    def values(self) -> dict[str, FieldValue]:
        return {**super().values(), "Humidity_1": 41.5}


async def test_unnamed_iostack_fields_become_disabled_sensors(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    push_simulator.iostacks[IOSTACK_ADDRESS] = _ProbeIoStack(IOSTACK_ADDRESS)
    entry = await setup_entry(hass, push_entry(push_simulator))
    entity_id = _entity_id(hass, entry, "sensor", IOSTACK_ADDRESS, "iostack_field_humidity_1")
    registry_entry = er.async_get(hass).async_get(entity_id)
    assert registry_entry is not None
    assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert registry_entry.translation_key == iostack.GENERIC_KEY
    # Named in words, not by the API's field name (issue 13 #8).
    assert registry_entry.original_name == "Humidity 1"


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("Reliability_Ratio", "Reliability ratio"),
        ("Humidity_1", "Humidity 1"),
        ("AI_1", "AI 1"),
        ("PERR.NR", "PERR.NR"),
        ("State_AC_Out", "State AC out"),
    ],
)
def test_iostack_field_labels_read_as_words(field: str, label: str) -> None:
    assert iostack.field_label(field) == label


async def test_cloud_devices_hang_off_their_gateway(
    hass: HomeAssistant, push_simulator: PushSimulator, cloud_entry: MockConfigEntry
) -> None:
    registry = dr.async_get(hass)
    gateway = _device(registry, cloud_entry, cloud_gateway_id(next(iter(push_simulator.gateways))))
    assert gateway is not None
    assert gateway.model == "Push3"
    for address in (V4_ADDRESS, V3_ADDRESS, IOSTACK_ADDRESS):
        device = _device(registry, cloud_entry, address)
        assert device is not None, address
        assert device.via_device_id == gateway.id
    meter = _device(registry, cloud_entry, V4_ADDRESS)
    assert meter is not None
    assert meter.model_id is None  # the name only, not "(1024)" beside it (issue 13 #8)
    assert meter.model == model_name(push_simulator.meters[V4_ADDRESS].model)


async def test_excluded_devices_get_no_entities(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    entry = await setup_entry(
        hass, push_entry(push_simulator, options={CONF_EXCLUDED: [V3_ADDRESS, IOSTACK_ADDRESS]})
    )
    registry = dr.async_get(hass)
    assert _device(registry, entry, V4_ADDRESS) is not None
    assert _device(registry, entry, V3_ADDRESS) is None
    # The excluded meters are not even asked for.
    reads = [r for r in push_simulator.served if r.path == "/readMeter"]
    assert all(V3_ADDRESS not in r.devices for r in reads)
    assert entry.state is ConfigEntryState.LOADED


async def test_one_request_per_poll_and_no_writes_when_nothing_changed(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    writes: list[Event] = []
    push_simulator.auto_poll = False  # the gateway takes no new reads
    served = len(push_simulator.served)

    @callback
    def _count(event: Event) -> None:
        writes.append(event)

    hass.bus.async_listen("state_changed", _count)
    await _poll(hass, freezer, 60)
    assert len(push_simulator.served) == served + 1  # every device in one request
    assert writes == []
    # New reads: the meters' values change, and so do their entities.
    push_simulator.advance(60)
    push_simulator.auto_poll = True
    await _poll(hass, freezer, 60)
    assert writes
    assert _mismatches(hass, cloud_entry, push_simulator) == []


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_new_read_rewrites_only_the_entities_whose_value_moved(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    entity_ids = [
        entity.entity_id
        for entity in er.async_entries_for_config_entry(er.async_get(hass), cloud_entry.entry_id)
    ]
    before = {entity_id: hass.states.get(entity_id) for entity_id in entity_ids}
    written: dict[str, int] = dict.fromkeys(entity_ids, 0)

    @callback
    def _ours(event_data: Any) -> bool:
        return event_data["entity_id"] in written

    @callback
    def _count(event: Event) -> None:
        written[event.data["entity_id"]] += 1

    # state_reported is what Home Assistant fires for a write that changed nothing.
    hass.bus.async_listen("state_changed", _count, event_filter=_ours)
    hass.bus.async_listen("state_reported", _count, event_filter=_ours)
    push_simulator.advance(60)  # the gateway reads every meter again: their readings change
    await _poll(hass, freezer, 60)
    assert _mismatches(hass, cloud_entry, push_simulator) == []

    def shown(state: Any) -> tuple[str, dict[str, Any]]:
        return (state.state, dict(state.attributes))

    moved = {e for e in entity_ids if shown(hass.states.get(e)) != shown(before[e])}
    kept = set(entity_ids) - moved
    assert moved, "the new read changed no entity"
    assert kept, "the new read left no entity unchanged"
    assert {e for e in kept if written[e]} == set()  # not rewritten
    assert {e for e in moved if written[e] != 1} == set()  # each moved one written once


async def test_server_error_makes_entities_unavailable_until_recovery(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    push_simulator.faults.http_status = 502
    await _poll(hass, freezer, 60)
    assert _state(hass, cloud_entry, "sensor", V4_ADDRESS, "import_energy") == STATE_UNAVAILABLE
    assert _state(hass, cloud_entry, "binary_sensor", V4_ADDRESS, "reporting") == STATE_UNAVAILABLE
    push_simulator.faults.clear()
    await _poll(hass, freezer, 60)
    assert _state(hass, cloud_entry, "sensor", V4_ADDRESS, "import_energy") != STATE_UNAVAILABLE
    assert _mismatches(hass, cloud_entry, push_simulator) == []


async def test_rate_limit_backs_off_as_asked(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    push_simulator.faults.http_status = 429
    push_simulator.faults.retry_after = "300"
    push_simulator.faults.times = 1
    await _poll(hass, freezer, 60)
    assert [r.status for r in push_simulator.served[-1:]] == [429]
    served = len(push_simulator.served)
    # The readings already shown are still the gateway's newest: they stay while fresh.
    assert _state(hass, cloud_entry, "sensor", V4_ADDRESS, "import_energy") != STATE_UNAVAILABLE
    assert _state(hass, cloud_entry, "binary_sensor", V4_ADDRESS, "reporting") == STATE_ON
    assert _mismatches(hass, cloud_entry, push_simulator) == []
    # Two normal intervals later nothing was sent: the service asked for five minutes.
    await _poll(hass, freezer, 60)
    await _poll(hass, freezer, 60)
    assert len(push_simulator.served) == served
    await _poll(hass, freezer, 300)
    assert len(push_simulator.served) == served + 1
    assert _state(hass, cloud_entry, "sensor", V4_ADDRESS, "import_energy") != STATE_UNAVAILABLE


async def test_rate_limit_at_setup_is_honoured_by_retries(
    hass: HomeAssistant, push_simulator: PushSimulator, freezer: FrozenDateTimeFactory
) -> None:
    push_simulator.faults.http_status = 429
    push_simulator.faults.retry_after = "300"
    push_simulator.faults.times = 1
    entry = await setup_entry(hass, push_entry(push_simulator))
    assert entry.state is ConfigEntryState.SETUP_RETRY
    served = len(push_simulator.served)
    # Home Assistant retries sooner than asked: the retry sends nothing.
    freezer.tick(timedelta(seconds=30))
    await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert len(push_simulator.served) == served
    freezer.tick(timedelta(seconds=300))
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_refused_key_at_runtime_starts_reauth(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    push_simulator.account_key = "cm90YXRlZA=="
    await _poll(hass, freezer, 60)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_meter_that_stops_reporting(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    push_simulator.faults.bad_reads.add(V3_ADDRESS)  # the gateway's reads of it fail
    await _poll(hass, freezer, MIN_STALE_AFTER + 60)
    assert _state(hass, cloud_entry, "binary_sensor", V3_ADDRESS, "reporting") == STATE_OFF
    assert _state(hass, cloud_entry, "sensor", V3_ADDRESS, "import_energy") == STATE_UNAVAILABLE
    assert _state(hass, cloud_entry, "sensor", V3_ADDRESS, "last_reading") != STATE_UNAVAILABLE
    # The other meter is unaffected.
    assert _state(hass, cloud_entry, "binary_sensor", V4_ADDRESS, "reporting") == STATE_ON
    push_simulator.faults.bad_reads.clear()
    await _poll(hass, freezer, 60)
    assert _state(hass, cloud_entry, "binary_sensor", V3_ADDRESS, "reporting") == STATE_ON


async def test_meters_added_and_removed_on_the_account(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    new = SimMeter(NEW_METER)
    push_simulator.meters[NEW_METER] = new
    push_simulator.history[NEW_METER] = []
    next(iter(push_simulator.gateways.values())).append(NEW_METER)
    await _poll(hass, freezer, DISCOVERY_INTERVAL.total_seconds())
    registry = dr.async_get(hass)
    assert _device(registry, cloud_entry, NEW_METER) is not None
    assert _mismatches(hass, cloud_entry, push_simulator) == []

    # The v3 meter leaves the account: its device and entities go.
    del push_simulator.meters[V3_ADDRESS]
    next(iter(push_simulator.gateways.values())).remove(V3_ADDRESS)
    del push_simulator.history[V3_ADDRESS]
    await _poll(hass, freezer, DISCOVERY_INTERVAL.total_seconds())
    assert _device(registry, cloud_entry, V3_ADDRESS) is None
    assert not [
        e
        for e in er.async_entries_for_config_entry(er.async_get(hass), cloud_entry.entry_id)
        if e.unique_id.startswith(f"{cloud_entry.unique_id}_{V3_ADDRESS}_")
    ]


async def test_device_removal_by_the_user(
    hass: HomeAssistant,
    hass_ws_client: Any,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert await async_setup_component(hass, "config", {})
    registry = dr.async_get(hass)
    client = await hass_ws_client(hass)

    async def remove(address: str) -> bool:
        device = _device(registry, cloud_entry, address)
        assert device is not None
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": cloud_entry.entry_id,
                "device_id": device.id,
            }
        )
        response = await client.receive_json()
        return bool(response["success"])

    assert not await remove(V4_ADDRESS)  # still reported
    # A meter the gateway no longer reports may be deleted; it comes back if it reports again.
    push_simulator.faults.bad_reads.add(V4_ADDRESS)
    await _poll(hass, freezer, MIN_STALE_AFTER + 60)
    assert await remove(V4_ADDRESS)
    assert _device(registry, cloud_entry, V4_ADDRESS) is None
    push_simulator.faults.bad_reads.clear()
    await _poll(hass, freezer, 60)
    assert _device(registry, cloud_entry, V4_ADDRESS) is not None
    assert _state(hass, cloud_entry, "sensor", V4_ADDRESS, "import_energy") != STATE_UNAVAILABLE


async def test_diagnostics_redact_key_and_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    push_simulator: PushSimulator,
    cloud_entry: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, cloud_entry)
    text = str(diagnostics)
    assert push_simulator.account_key not in text
    assert "secret-token" not in text
    assert diagnostics["devices"][V4_ADDRESS]["stale"] is False
    assert diagnostics["requests_sent"] >= 2  # discovery and one read


# Push3 ------------------------------------------------------------------------------------------


async def test_push3_entities_and_stale_meter(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    push3_simulator: Push3Simulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await setup_entry(hass, push3_entry(push3_simulator))
    assert entry.state is ConfigEntryState.LOADED
    assert _mismatches(hass, entry, push_simulator) == []
    gateway = _device(dr.async_get(hass), entry, entry.unique_id or "")
    assert gateway is not None
    assert gateway.configuration_url == f"http://{push3_simulator.host}"
    requests = push3_simulator.requests
    # The gateway keeps serving the v4 meter's last good read, ever older.
    push_simulator.faults.bad_reads.add(V4_ADDRESS)
    await _poll(hass, freezer, MIN_STALE_AFTER + 30)
    assert push3_simulator.requests > requests
    assert _state(hass, entry, "binary_sensor", V4_ADDRESS, "reporting") == STATE_OFF
    assert _state(hass, entry, "sensor", V4_ADDRESS, "import_energy") == STATE_UNAVAILABLE
    assert _state(hass, entry, "binary_sensor", V3_ADDRESS, "reporting") == STATE_ON


async def test_push3_failure_and_refused_key(
    hass: HomeAssistant,
    push3_simulator: Push3Simulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await setup_entry(hass, push3_entry(push3_simulator))
    push3_simulator.faults.http_status = 503
    await _poll(hass, freezer, 30)
    assert _state(hass, entry, "sensor", V3_ADDRESS, "import_energy") == STATE_UNAVAILABLE
    push3_simulator.faults.http_status = None
    await _poll(hass, freezer, 30)
    assert _state(hass, entry, "sensor", V3_ADDRESS, "import_energy") != STATE_UNAVAILABLE
    push3_simulator.key = "bmV3a2V5"
    await _poll(hass, freezer, 30)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert MeterVersion.V3 is push_runtime(entry).coordinator.data.meters[V3_ADDRESS].version


async def test_push3_diagnostics_and_no_devices_chosen(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    push_simulator: PushSimulator,
    push3_simulator: Push3Simulator,
) -> None:
    entry = await setup_entry(hass, push3_entry(push3_simulator))
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["requests_sent"] == push3_simulator.requests
    assert push3_simulator.key not in str(diagnostics)
    # A cloud entry whose every device was left out reads nothing, and has no entities.
    excluded = [V4_ADDRESS, V3_ADDRESS, IOSTACK_ADDRESS]
    cloud = await setup_entry(hass, push_entry(push_simulator, options={CONF_EXCLUDED: excluded}))
    assert cloud.state is ConfigEntryState.LOADED
    assert not er.async_entries_for_config_entry(er.async_get(hass), cloud.entry_id)
    assert all(r.path != "/readMeter" or r.key_kind != "account" for r in push_simulator.served)


async def test_push3_gateway_device_shows_connectivity_and_last_poll(
    hass: HomeAssistant,
    push3_simulator: Push3Simulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The gateway's own device says whether it answers and when it last did (issue 13 #11)."""
    entry = await setup_entry(hass, push3_entry(push3_simulator))
    assert entry.unique_id is not None
    gateway = entry.unique_id  # the gateway device's identifier
    connected = _entity_id(hass, entry, "binary_sensor", gateway, "gateway_connected")
    last_poll = _entity_id(hass, entry, "sensor", gateway, "gateway_last_poll")
    registry = er.async_get(hass)
    devices = dr.async_get(hass)
    for entity_id in (connected, last_poll):
        registry_entry = registry.async_get(entity_id)
        assert registry_entry is not None
        device = devices.async_get(registry_entry.device_id or "")
        assert device is not None
        assert (DOMAIN, gateway) in device.identifiers
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    first = dt_util.parse_datetime(hass.states.get(last_poll).state)  # type: ignore[union-attr]
    assert first is not None

    push3_simulator.faults.http_status = 503
    await _poll(hass, freezer, 30)
    assert hass.states.get(connected).state == STATE_OFF  # type: ignore[union-attr]
    assert dt_util.parse_datetime(hass.states.get(last_poll).state) == first  # type: ignore[union-attr]

    push3_simulator.faults.http_status = None
    await _poll(hass, freezer, 30)
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    later = dt_util.parse_datetime(hass.states.get(last_poll).state)  # type: ignore[union-attr]
    assert later is not None
    assert later > first
