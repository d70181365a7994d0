"""MQTT streaming of Push entries against a real mosquitto fed by the simulated gateway.

The cloud simulator publishes every read its gateway takes (`simulator.ekm.push_mqtt`) to a
TLS mosquitto with EKM's per-key ACL; the entry subscribes with its gateway key through the
integration's own stream task. Polls go to the same simulator, so streamed and polled reads
are the same reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.const import CONF_SCAN_INTERVAL, DOMAIN
from custom_components.meterlink.flow_helpers import FormError
from custom_components.meterlink.meters.ekm.reading import EkmReading, MeterVersion
from custom_components.meterlink.meters.push.mqtt import Broker
from custom_components.meterlink.push import streaming
from custom_components.meterlink.push.coordinator import PushCoordinator, push_runtime
from simulator.ekm.meter import SimMeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_mqtt import MqttPublisher, realtime_payload
from tests.mosquitto import HOST, Mosquitto, mosquitto, mqtt_ca, publish

from ..conftest import V4_ADDRESS, setup_entry
from .conftest import push3_entry, push_entry

__all__ = ["mosquitto", "mqtt_ca"]
pytestmark = pytest.mark.timeout(60)
STREAMING_DEFAULT = streaming.streaming_default  # before tests/conftest.py turns it off
FAST_WATCHDOG = 0.5


@pytest.fixture
def broker(mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch) -> Mosquitto:
    """Point the integration's streams at the test broker, trusting its CA; defaults as shipped."""
    monkeypatch.setattr(streaming, "streaming_default", STREAMING_DEFAULT)
    monkeypatch.setattr(streaming, "BROKER", Broker(HOST, mosquitto.port))
    monkeypatch.setattr(streaming, "stream_tls_context", mosquitto.ca.client_context)
    return mosquitto


@pytest.fixture
async def publisher(
    broker: Mosquitto, push_simulator: PushSimulator
) -> AsyncIterator[MqttPublisher]:
    """The simulated gateway publishes each read it takes."""
    running = MqttPublisher(push_simulator, Broker(HOST, broker.port), broker.ca.client_context())
    await running.start()
    yield running
    await running.stop()


def gateway_key(simulator: PushSimulator) -> str:
    return next(iter(simulator.gateway_keys.values()))


async def wait_for(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def entity_id(hass: HomeAssistant, entry: MockConfigEntry, platform: str, suffix: str) -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{entry.unique_id}_{suffix}")
    assert found is not None, suffix
    return found


def energy(hass: HomeAssistant, entry: MockConfigEntry) -> float:
    state = hass.states.get(entity_id(hass, entry, "sensor", f"{V4_ADDRESS}_import_energy"))
    assert state is not None
    return float(state.state)


def truth_import(simulator: PushSimulator) -> float:
    read = simulator.newest_good(V4_ADDRESS)
    assert read is not None
    reading = EkmReading(V4_ADDRESS, MeterVersion.V4, dict(read.values))
    assert reading.import_kwh is not None
    return float(reading.import_kwh)


def shows_truth(hass: HomeAssistant, entry: MockConfigEntry, simulator: PushSimulator) -> bool:
    return abs(energy(hass, entry) - truth_import(simulator)) < 1e-6


def streaming_on(hass: HomeAssistant, entry: MockConfigEntry) -> bool:
    state = hass.states.get(entity_id(hass, entry, "binary_sensor", "streaming"))
    return state is not None and state.state == STATE_ON


def coordinator_of(entry: MockConfigEntry) -> PushCoordinator:
    return push_runtime(entry).coordinator


async def streaming_entry(
    hass: HomeAssistant, simulator: PushSimulator, **options: Any
) -> MockConfigEntry:
    """A cloud entry made with the gateway key, set up, its stream connected."""
    entry = await setup_entry(
        hass, push_entry(simulator, key=gateway_key(simulator), options=options)
    )
    assert entry.state is ConfigEntryState.LOADED
    fast_refresh_requests(entry)
    await wait_for(lambda: streaming_on(hass, entry), "the stream to connect")
    return entry


def fast_refresh_requests(entry: MockConfigEntry) -> None:
    """Let a requested poll follow the previous one at once (Home Assistant waits 10 s)."""
    debouncer = coordinator_of(entry)._debounced_refresh
    assert debouncer is not None
    debouncer.cooldown = 0.05


async def test_a_read_reaches_the_entities_at_once(
    hass: HomeAssistant, push_simulator: PushSimulator, publisher: MqttPublisher
) -> None:
    entry = await streaming_entry(hass, push_simulator)
    coordinator = coordinator_of(entry)
    assert coordinator.update_interval == streaming.SAFETY_INTERVAL
    await hass.async_block_till_done()
    requests = len(push_simulator.served)
    push_simulator.advance(3600)
    push_simulator.poll()  # the gateway reads: the broker pushes it, nobody polls
    await publisher.drain()
    await wait_for(lambda: shows_truth(hass, entry, push_simulator), "the streamed read")
    assert len(push_simulator.served) == requests
    newest = push_simulator.history[V4_ADDRESS][-1].timestamp_ms
    assert coordinator.data.timestamps[V4_ADDRESS] == newest


async def test_reads_not_newer_are_dropped_polled_or_streamed(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    publisher: MqttPublisher,
    broker: Mosquitto,
) -> None:
    entry = await streaming_entry(hass, push_simulator)
    coordinator = coordinator_of(entry)
    push_simulator.advance(3600)
    push_simulator.poll()
    await publisher.drain()
    await wait_for(lambda: shows_truth(hass, entry, push_simulator), "the streamed read")
    shown, data = energy(hass, entry), coordinator.data
    # The gateway re-sends an older read: nothing moves backwards, nothing is published.
    older = {a: history[0] for a, history in push_simulator.history.items()}
    gateway = Push3Simulator(push_simulator)
    await publish(broker, f"realtime/{gateway.key}", realtime_payload(gateway, older))
    # A poll that brings the read already streamed publishes nothing either.
    push_simulator.auto_poll = False
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    await asyncio.sleep(0.3)
    assert coordinator.data is data
    assert energy(hass, entry) == shown


async def test_hundred_meters_in_one_message(
    hass: HomeAssistant, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.meterlink.push import coordinator as push_coordinator

    meters = [SimMeter(f"{300001001 + n:012d}") for n in range(100)]
    simulator = PushSimulator(meters, auto_poll=False)
    simulator.poll()
    url = await simulator.start()
    monkeypatch.setattr(push_coordinator, "API_URL", url)
    monkeypatch.setattr(push_coordinator, "ACCOUNT_URL", url)
    publisher = MqttPublisher(simulator, Broker(HOST, broker.port), broker.ca.client_context())
    await publisher.start()
    try:
        entry = await streaming_entry(hass, simulator)
        coordinator = coordinator_of(entry)
        simulator.advance(600)
        simulator.poll()
        newest = {a: h[-1].timestamp_ms for a, h in simulator.history.items()}
        await publisher.drain()
        await wait_for(lambda: dict(coordinator.data.timestamps) == newest, "all 100 meters")
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await publisher.stop()
        await simulator.stop()


async def test_broker_restart_reconnects_then_polls(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    publisher: MqttPublisher,
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streaming, "RECONNECT", streaming.Backoff(initial=0.05, maximum=0.2))
    entry = await streaming_entry(hass, push_simulator)
    coordinator = coordinator_of(entry)
    catch_ups: list[int] = []

    async def catch_up() -> None:  # what the statistics catch-up will hang here
        catch_ups.append(len(push_simulator.served))

    stream_of_entry = push_runtime(entry).streaming
    assert stream_of_entry is not None
    stream_of_entry.after_reconnect.append(catch_up)
    await publisher.stop()
    requests = len(push_simulator.served)
    await asyncio.to_thread(broker.restart)
    await wait_for(lambda: not streaming_on(hass, entry), "the stream to drop")
    assert coordinator.update_interval == coordinator.poll_interval
    await wait_for(lambda: streaming_on(hass, entry), "the stream to come back")
    # After the reconnect the entry polls once: the broker kept nothing meanwhile.
    await wait_for(lambda: len(push_simulator.served) > requests, "a poll after reconnecting")
    assert coordinator.update_interval == streaming.SAFETY_INTERVAL
    # The reconnect's refresh may wait out the coordinator's 10 s request debouncer first.
    await wait_for(lambda: len(catch_ups) == 1, "the catch-up after the reconnect's poll", 30)
    assert stream_of_entry.streams[0].stream.stats.reconnects == 1


async def test_refused_key_raises_a_repair_and_polling_goes_on(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streaming, "BROKER", Broker(HOST, broker.refusing_port))
    entry = await setup_entry(hass, push_entry(push_simulator, key=gateway_key(push_simulator)))
    issues = ir.async_get(hass)
    await wait_for(
        lambda: any(i.translation_key == "mqtt_key_refused" for i in issues.issues.values()),
        "the repair issue",
    )
    coordinator = coordinator_of(entry)
    assert coordinator.update_interval == coordinator.poll_interval
    assert not streaming_on(hass, entry)
    assert coordinator.last_update_success
    issue = next(i for i in issues.issues.values() if i.translation_key == "mqtt_key_refused")
    assert gateway_key(push_simulator) not in str(issue.translation_placeholders)


async def test_silent_key_trips_the_watchdog_back_to_polling(
    hass: HomeAssistant,
    push_simulator: PushSimulator,
    publisher: MqttPublisher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streaming, "MIN_WATCHDOG", FAST_WATCHDOG)
    monkeypatch.setattr(streaming, "GATEWAY_READ_INTERVAL", 0.1)
    mac = next(iter(push_simulator.gateways))
    # An account key with a gateway key the broker accepts but never delivers to.
    entry = await setup_entry(
        hass,
        push_entry(
            push_simulator, options={streaming.CONF_GATEWAY_KEYS: {mac: "SILENT-GATEWAY-KEY"}}
        ),
    )
    fast_refresh_requests(entry)
    coordinator = coordinator_of(entry)
    await wait_for(lambda: streaming_on(hass, entry), "the stream to connect")
    requests = len(push_simulator.served)
    await wait_for(lambda: not streaming_on(hass, entry), "the watchdog")
    assert coordinator.update_interval == coordinator.poll_interval
    await wait_for(lambda: len(push_simulator.served) > requests, "a poll after the silence")
    stream = push_runtime(entry).streaming
    assert stream is not None
    assert stream.streams[0].stream.stats.silences >= 1
    # It subscribes again at once; unload while subscribed, not in the middle of a subscribe.
    await wait_for(lambda: streaming_on(hass, entry), "the stream to subscribe again")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_malformed_payload_is_counted_in_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    push_simulator: PushSimulator,
    publisher: MqttPublisher,
    broker: Mosquitto,
) -> None:
    entry = await streaming_entry(hass, push_simulator)
    key = gateway_key(push_simulator)
    await publish(broker, f"realtime/{key}", b"<html>not json</html>")
    stream = push_runtime(entry).streaming
    assert stream is not None
    await wait_for(lambda: stream.streams[0].stream.stats.parse_errors == 1, "the parse error")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    streams = (
        diagnostics["runtime"]["streaming"]["streams"]
        if "runtime" in diagnostics
        else (diagnostics["streaming"]["streams"])
    )
    assert streams[0]["parse_errors"] == 1
    assert streams[0]["connected"] is True
    assert key not in str(diagnostics)


async def test_unload_stops_the_stream(
    hass: HomeAssistant, push_simulator: PushSimulator, publisher: MqttPublisher
) -> None:
    entry = await streaming_entry(hass, push_simulator)
    stream = push_runtime(entry).streaming
    assert stream is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not stream.streams[0].stream.stats.connected
    tasks = [t for t in asyncio.all_tasks() if "MQTT stream" in t.get_name() and not t.done()]
    assert tasks == []


async def test_push3_streams_only_when_switched_on(
    hass: HomeAssistant,
    push3_simulator: Push3Simulator,
    publisher: MqttPublisher,
) -> None:
    entry = await setup_entry(hass, push3_entry(push3_simulator))
    registry = er.async_get(hass)
    unique_id = f"{entry.unique_id}_streaming"
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, unique_id) is None
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 30, streaming.CONF_STREAMING: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await wait_for(lambda: streaming_on(hass, entry), "the Push3 entry's stream")


async def test_options_take_gateway_keys_and_switch_streaming_off(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    push_simulator: PushSimulator,
    publisher: MqttPublisher,
) -> None:
    entry = await setup_entry(hass, push_entry(push_simulator))  # an account key
    mac = next(iter(push_simulator.gateways))
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert mac in result["description_placeholders"]["gateways"]
    form = {CONF_SCAN_INTERVAL: 60, streaming.CONF_STREAMING: True}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**form, streaming.CONF_GATEWAY_KEYS: "nonsense"}
    )
    assert result["errors"] == {streaming.CONF_GATEWAY_KEYS: "invalid_gateway_key_line"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**form, streaming.CONF_GATEWAY_KEYS: f"{mac}={gateway_key(push_simulator)}"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[streaming.CONF_GATEWAY_KEYS] == {mac: gateway_key(push_simulator)}
    await hass.async_block_till_done()
    await wait_for(lambda: streaming_on(hass, entry), "the stream with the gateway key")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert gateway_key(push_simulator) not in str(diagnostics)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 60, streaming.CONF_STREAMING: False}
    )
    await hass.async_block_till_done()
    assert entry.options[streaming.CONF_GATEWAY_KEYS] == {mac: gateway_key(push_simulator)}
    runtime_streaming = push_runtime(entry).streaming
    assert runtime_streaming is not None
    assert not runtime_streaming.active
    assert coordinator_of(entry).update_interval == coordinator_of(entry).poll_interval
    # Unloaded here, not by the fixture's teardown: aiomqtt tasks cancelled while Home
    # Assistant stops can surface a CancelledError in a later test's teardown.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def test_gateway_key_lines() -> None:
    stored = {"4016fa0500cd": "OLD-KEY", "4016fa0500ce": "OTHER-KEY"}
    gateways = ["40:16:FA:05:00:CD", "4016fa0500ce"]
    keys = streaming.gateway_keys_from_form(
        "40:16:fa:05:00:cd = NEW-KEY\n\n4016fa0500ce=\n", gateways, stored
    )
    assert keys == {"4016fa0500cd": "NEW-KEY"}
    for lines in ("4016fa0500cf=KEY", "no separator", "4016fa0500cd=two words"):
        with pytest.raises(FormError):
            streaming.gateway_keys_from_form(lines, gateways, stored)
