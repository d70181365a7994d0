"""`python -m benchmarks push`: what one poll of an EKM Push key costs inside Home Assistant.

A real `HomeAssistant` runs in this process with the MeterLink integration set up on an EKM Push
key of the fake cloud (`simulator.ekm.push_cloud`), which serves 1, 100 or 1000 v4 meters on one
gateway. The simulator runs in a thread of its own, so the CPU time measured with
`time.thread_time()` in Home Assistant's event-loop thread is Home Assistant's alone: fetching
and parsing the answers, the coordinator (energy guard, staleness), and the entities' state
writes. Scenarios per size:

* changed: the gateway took a new read of every meter, whose registers moved (the busy case);
* unchanged: no new reads since the last poll (the target is 0 state writes);
* stream chg / stream same / floor: the same entry streaming from a real mosquitto, see
  `benchmarks.push_stream` (CPU and latency per MQTT message, and the bare cost of the writes).

The simulator serves reads the gateway took (`poll()`, once per Home Assistant poll here), not
a new read per request.

"Requests" counts HTTP requests the simulator served during the poll; the Account API request
(discovery) is sent once an hour and is not part of a poll.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from homeassistant.const import CONF_API_KEY
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity as entity_helper
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.meterlink.const import CONF_CONNECTION, CONNECTION_EKM_PUSH, DOMAIN
from custom_components.meterlink.push import coordinator as push_coordinator
from custom_components.meterlink.push import streaming
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator

from .push_stream import StreamBroker, StreamCost, measure_floor, measure_stream, start_publisher


class SimulatorThread:
    """The fake cloud on its own event loop in a thread (its CPU is not Home Assistant's)."""

    def __init__(self, simulator: PushSimulator) -> None:
        self.simulator = simulator
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="push-simulator", daemon=True)
        self.url = ""

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.url = await self.simulator.start()
        self._ready.set()
        await self._stop.wait()
        await self.simulator.stop()

    def loop_of_simulator(self) -> asyncio.AbstractEventLoop:
        """The simulator's event loop (to run its publisher and reads on)."""
        assert self._loop is not None
        return self._loop

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@dataclass(frozen=True)
class PollCost:
    """Averages over the measured polls of one scenario."""

    requests: float
    cpu_ms: float  # median over the polls (a garbage collection can land in any one)
    cpu_max_ms: float
    state_writes: float  # entity state writes (async_write_ha_state calls)
    state_changes: float  # state_changed events


@contextmanager
def counting_writes() -> Iterator[list[int]]:
    """Count every entity state write (the integration's skips never reach it)."""
    counter = [0]
    original: Callable[..., Any] = entity_helper.Entity._async_write_ha_state

    def counted(self: entity_helper.Entity) -> None:
        counter[0] += 1
        original(self)

    entity_helper.Entity._async_write_ha_state = counted  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        entity_helper.Entity._async_write_ha_state = original  # type: ignore[method-assign]


async def _measure(
    hass: HomeAssistant,
    coordinator: push_coordinator.PushCoordinator,
    simulator: PushSimulator,
    polls: int,
    *,
    changed: bool,
) -> PollCost:
    changes: list[Event] = []

    @callback
    def _changed(event: Event) -> None:
        changes.append(event)

    unsubscribe = hass.bus.async_listen("state_changed", _changed)
    requests = 0.0
    cpu: list[float] = []
    with counting_writes() as writes:
        for _ in range(polls):
            if changed:  # the gateway read every meter once since the last poll
                simulator.advance(60)
                simulator.poll()
            served = len(simulator.served)
            start = time.thread_time()
            await coordinator.async_refresh()
            await hass.async_block_till_done()
            cpu.append((time.thread_time() - start) * 1000)
            requests += len(simulator.served) - served
        written = writes[0]
    unsubscribe()
    return PollCost(
        requests / polls, statistics.median(cpu), max(cpu), written / polls, len(changes) / polls
    )


async def bench_size(meters: int, polls: int) -> tuple[int, float, list[str]]:
    """Set up a gateway key with `meters` meters; entities, setup seconds, the table's rows."""
    addresses = [f"{300001001 + index:012d}" for index in range(meters)]
    # The gateway reads each meter once a minute, not on every request.
    simulator = PushSimulator([SimMeter(address) for address in addresses], auto_poll=False)
    simulator.poll()
    with (
        SimulatorThread(simulator) as server,
        tempfile.TemporaryDirectory() as config_dir,
        StreamBroker() as stream_broker,
    ):
        push_coordinator.API_URL = push_coordinator.ACCOUNT_URL = server.url
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop("custom_components", None)  # let the loader find MeterLink
            entry = MockConfigEntry(
                domain=DOMAIN,
                title="bench",
                unique_id="ekmpush-bench",
                # A gateway key: it reads the same devices and streams them too.
                data={
                    CONF_CONNECTION: CONNECTION_EKM_PUSH,
                    CONF_API_KEY: next(iter(simulator.gateway_keys.values())),
                },
                options={"scan_interval": 3600, streaming.CONF_STREAMING: True},
            )
            entry.add_to_hass(hass)
            start = time.monotonic()
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            setup = time.monotonic() - start
            runtime = push_coordinator.push_runtime(entry)
            entities = len(er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id))
            if len(runtime.coordinator.data.meters) != meters:
                print(f"only {len(runtime.coordinator.data.meters)} of {meters} meters read")
            changed = await _measure(hass, runtime.coordinator, simulator, polls, changed=True)
            unchanged = await _measure(hass, runtime.coordinator, simulator, polls, changed=False)
            rows = [
                _row(meters, entities, setup, "changed", changed),
                _row(meters, entities, setup, "unchanged", unchanged),
            ]
            loop = server.loop_of_simulator()
            publisher = await start_publisher(stream_broker.broker, simulator, loop)
            with counting_writes() as writes:
                stream = [
                    await measure_stream(
                        hass,
                        runtime.coordinator,
                        simulator=simulator,
                        publisher=publisher,
                        loop=loop,
                        writes=writes,
                        messages=polls,
                        changed=is_changed,
                    )
                    for is_changed in (True, False)
                ]
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(publisher.stop(), loop))
            rows.append(_stream_row(meters, entities, setup, "stream chg", stream[0]))
            rows.append(_stream_row(meters, entities, setup, "stream same", stream[1]))
            # As many states as a changed message writes, each with its entity's attributes.
            entity_ids = [
                e.entity_id
                for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
                if e.disabled_by is None
            ][: max(1, round(stream[0].state_writes))]
            floor = await measure_floor(hass, entity_ids, polls)
            rows.append(
                f"{meters:>6} {entities:>8} {setup:>6.1f}s {'floor':>11} {0:>8.1f} {floor:>8.1f} "
                f"{'':>8} {len(entity_ids):>7} {'':>7} {'':>9}  chg/floor "
                f"{stream[0].cpu_ms / floor if floor else 0:.2f}"
            )
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_stop(force=True)
    return entities, setup, rows


def _stream_row(meters: int, entities: int, setup: float, name: str, cost: StreamCost) -> str:
    return (
        f"{meters:>6} {entities:>8} {setup:>6.1f}s {name:>11} {0:>8.1f} "
        f"{cost.cpu_ms:>8.1f} {cost.cpu_max_ms:>8.1f} {cost.state_writes:>7.0f} "
        f"{'':>7} {cost.latency_ms:>9.1f}"
    )


def _row(meters: int, entities: int, setup: float, name: str, cost: PollCost) -> str:
    return (
        f"{meters:>6} {entities:>8} {setup:>6.1f}s {name:>11} {cost.requests:>8.1f} "
        f"{cost.cpu_ms:>8.1f} {cost.cpu_max_ms:>8.1f} {cost.state_writes:>7.0f} "
        f"{cost.state_changes:>7.0f}"
    )


async def push_bench(sizes: list[int], polls: int, *, rows_only: bool = False) -> None:
    """Print one table row per size and scenario; each size runs in a fresh process."""
    if rows_only:  # the child process: one Home Assistant per process
        for meters in sizes:
            _, _, rows = await bench_size(meters, polls)
            print("\n".join(rows))
        return
    print("EKM Push key in Home Assistant (in-process), fake cloud in its own thread;")
    print(f"v4 meters on one gateway, {polls} polls per scenario; per poll: mean requests and")
    print("writes, median and maximum CPU time.")
    print("CPU = time.thread_time() of the event-loop thread around refresh -> state writes.")
    print("writes = entity state writes, changes = state_changed events.")
    print()
    print(
        f"{'meters':>6} {'entities':>8} {'setup':>7} {'scenario':>11} {'requests':>8} "
        f"{'CPU ms':>8} {'max ms':>8} {'writes':>7} {'changes':>7} {'latency ms':>9}"
    )
    for meters in sizes:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks",
            "push",
            "--sizes",
            str(meters),
            "--polls",
            str(polls),
            "--rows-only",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await process.communicate()
        rows = [line for line in out.decode().splitlines() if line.strip()[:1].isdigit()]
        print("\n".join(rows) if rows else f"{meters:>6} failed (exit {process.returncode})")
    print("target: 0 writes per poll when unchanged; one request per ~150 meters (URL length).")
