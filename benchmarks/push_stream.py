"""The streaming scenario of `python -m benchmarks push`: one MQTT message inside Home Assistant.

The entry of `benchmarks.push` streams from a real mosquitto (TLS, a throw-away CA, as in the
tests) to which the simulator thread's gateway publishes each read (`simulator.ekm.push_mqtt`).
Per message, in Home Assistant's event-loop thread (`time.thread_time()`): receiving, parsing,
the coordinator and the state writes, and the wall time from the publish to the last state
write. Scenarios:

* stream changed: the gateway read every meter again (registers moved);
* stream unchanged: the gateway repeats its last message (the target is no state write);
* floor: the same number of state writes made with `hass.states.async_set` and no MeterLink,
  so "changed" can be held against the bare cost of the writes it makes.

The wait for a message polls every 2 ms, which costs a few microseconds of CPU per wake.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from homeassistant.core import HomeAssistant

from custom_components.meterlink.meters.push.mqtt import Broker
from custom_components.meterlink.push import streaming
from custom_components.meterlink.push.coordinator import PushCoordinator, push_runtime
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_mqtt import MqttPublisher
from tests.mosquitto import HOST, Mosquitto, make_ca


@dataclass(frozen=True)
class StreamCost:
    """Medians over the measured messages."""

    cpu_ms: float
    cpu_max_ms: float
    state_writes: float
    latency_ms: float


class StreamBroker:
    """A mosquitto for the benchmark; streams of the entry are pointed at it."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory()
        ca = make_ca(Path(self._directory.name) / "ca")
        self.broker = Mosquitto(ca, Path(self._directory.name))

    def __enter__(self) -> StreamBroker:
        self.broker.start()
        streaming.BROKER = Broker(HOST, self.broker.port)
        streaming.stream_tls_context = self.broker.ca.client_context
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.broker.stop()
        self._directory.cleanup()


async def start_publisher(
    broker: Mosquitto, simulator: PushSimulator, loop: asyncio.AbstractEventLoop
) -> MqttPublisher:
    """The gateway's publisher, running on the simulator's own loop (its CPU is not HA's)."""

    async def start() -> MqttPublisher:
        publisher = MqttPublisher(simulator, Broker(HOST, broker.port), broker.ca.client_context())
        await publisher.start()
        return publisher

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(start(), loop))


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("no message arrived")
        await asyncio.sleep(0.002)


async def measure_stream(
    hass: HomeAssistant,
    coordinator: PushCoordinator,
    *,
    simulator: PushSimulator,
    publisher: MqttPublisher,
    loop: asyncio.AbstractEventLoop,
    writes: list[int],
    messages: int,
    changed: bool,
) -> StreamCost:
    """Publish `messages` messages one by one; CPU and latency of each in Home Assistant."""
    runtime_streaming = push_runtime(coordinator.config_entry).streaming
    assert runtime_streaming is not None
    stats = runtime_streaming.streams[0].stream.stats
    cpu: list[float] = []
    latency: list[float] = []
    written = 0

    def read_again() -> None:
        simulator.advance(60)
        simulator.poll()

    for _ in range(messages):
        received = stats.messages
        before = writes[0]
        start = time.thread_time()
        loop.call_soon_threadsafe(read_again if changed else publisher.repeat)
        await _until(lambda: stats.messages > received)  # noqa: B023
        await hass.async_block_till_done()
        cpu.append((time.thread_time() - start) * 1000)
        latency.append((time.monotonic() - publisher.published_at) * 1000)
        written += writes[0] - before
    return StreamCost(
        statistics.median(cpu), max(cpu), written / messages, statistics.median(latency)
    )


async def measure_floor(hass: HomeAssistant, entity_ids: list[str], rounds: int) -> float:
    """CPU ms of writing new states to `entity_ids` with no integration involved (median).

    Each state keeps the attributes the entity wrote (unit, device and state class, name), so
    the floor is Home Assistant's own cost of the same state changes.
    """
    current = [(eid, state) for eid in entity_ids if (state := hass.states.get(eid)) is not None]
    cpu: list[float] = []
    for round_ in range(rounds):
        start = time.thread_time()
        for entity_id, state in current:
            hass.states.async_set(entity_id, f"{round_}.{len(state.state)}", state.attributes)
        await hass.async_block_till_done()
        cpu.append((time.thread_time() - start) * 1000)
    return statistics.median(cpu)
