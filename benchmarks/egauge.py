"""`scripts/bench egauge`: requests and client CPU per poll, MeterLink's shape against core's.

MeterLink reads rates and counters of every register (virtual ones included) in one
`/register?rate&time=now&virtual=value` request. Home Assistant core's `egauge` integration
makes two per poll (`/register?rate` and `/register?time=now`, physical registers only); that
shape is emulated here with the same client and parser, so the difference is the request
shape alone. The simulated meter runs in its own thread and event loop, and only the polling
thread's CPU time is counted, so the simulator's own work is not in the figures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from custom_components.meterlink.meters.egauge.client import EgaugeClient
from custom_components.meterlink.meters.egauge.models import EpochMismatch
from custom_components.meterlink.meters.egauge.protocol import parse_registers
from simulator.egauge import EgaugeSimulator, SimEgauge, bench_registers

POLL_INTERVAL = 30.0  # the integration's default reading interval


@dataclass(frozen=True)
class PollCost:
    """One client shape on one meter size."""

    shape: str
    registers: int
    requests: float
    cpu_ms: float
    seen: int


class _MeterThread:
    """The simulated meter in a thread of its own, so its CPU is not the client's."""

    def __init__(self, registers: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        meter = SimEgauge(registers=bench_registers(registers), prehistory=60)
        self.sim = EgaugeSimulator(meter)
        asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _meterlink_poll(client: EgaugeClient) -> int:
    reading = await client.read()
    assert not isinstance(reading, EpochMismatch)
    return len(reading.values)


async def _meterlink_history_poll(client: EgaugeClient) -> int:
    """The Home Assistant coordinator's poll: also the 1 s rows of the last 30 s (import/export)."""
    answer = await client.poll(client.meter_now() - POLL_INTERVAL)
    assert not isinstance(answer, EpochMismatch)
    return len(answer[0].values)


async def _core_poll(client: EgaugeClient) -> int:
    rates = parse_registers(
        await client.call("GET", "/register", params={"rate": ""}), virtual_values=False
    )
    counters = parse_registers(
        await client.call("GET", "/register", params={"time": "now"}), virtual_values=False
    )
    assert not isinstance(rates, EpochMismatch)
    assert not isinstance(counters, EpochMismatch)
    return len(set(rates.values) & set(counters.values))


async def measure(registers: int, polls: int) -> list[PollCost]:
    """Every shape against one simulated meter with `registers` registers."""
    meter = _MeterThread(registers)
    results = []
    try:
        async with aiohttp.ClientSession() as session:
            for shape, poll in (
                ("MeterLink (1 request)", _meterlink_poll),
                ("MeterLink + 30 s of 1 s rows", _meterlink_history_poll),
                ("core shape (2 requests)", _core_poll),
            ):
                client = EgaugeClient(session, meter.sim.host, "owner", "owner-secret", https=False)
                seen = await poll(client)  # the login and the first connection are not counted
                requests = client.requests
                start = time.thread_time()
                for _ in range(polls):
                    seen = await poll(client)
                cpu = time.thread_time() - start
                results.append(
                    PollCost(
                        shape,
                        registers,
                        (client.requests - requests) / polls,
                        cpu * 1000 / polls,
                        seen,
                    )
                )
    finally:
        meter.stop()
    return results


async def egauge_bench(sizes: Sequence[int], polls: int) -> None:
    """Print the table."""
    print(f"eGauge poll cost: simulated meter on loopback HTTP, {polls} polls per row")
    head = f"{'registers':>9}  {'client':<30} {'requests/poll':>13} {'CPU ms/poll':>11}"
    print(f"{head}  registers read")
    for size in sizes:
        for cost in await measure(size, polls):
            print(
                f"{cost.registers:>9}  {cost.shape:<30} {cost.requests:>13.2f} {cost.cpu_ms:>11.2f}"
                f"  {cost.seen}"
            )
    print("(core's shape sees physical registers only: the virtual `use` and `gen` are missing)")
