"""`scripts/bench history`: what backfilling EKM Summary history costs.

The Push simulator's `/summary` (simulator/ekm/push_summary.py) runs in a thread of its own with
meters that first reported a year before "now". Two tables per size:

* library: the Summary client backfills every meter's year of quarter-hour buckets into
  hourly energy; requests, answer rows, wall time and the CPU time of the client's thread
  (fetching, parsing, hour arithmetic; the simulator's CPU is its own thread's);
* Home Assistant: a real `HomeAssistant` with the recorder (SQLite file) runs MeterLink's
  history importer (push/history.py) for the same meters, the simulator in a process of its
  own: wall time until the recorder has committed every row, CPU time of the event-loop
  thread during it, the longest stall of the loop (a 10 ms heartbeat's worst lateness) and
  the most CPU the loop thread spent in one tick — the recorder's work must not block it.

The client's pacing is off here: against EKM one request a second adds the request count in
seconds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import aiohttp

from custom_components.meterlink.meters.push import SummaryClient
from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_summary import attach_summary

from .push import SimulatorThread

NOW = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


async def backfill(meters: int, days: int) -> tuple[int, int, float, float, int]:
    """(requests, rows, wall s, client CPU s, hours) of one backfill of `meters` meters."""
    addresses = [f"{300001001 + n:012d}" for n in range(meters)]
    cloud = PushSimulator([SimMeter(a) for a in addresses], auto_poll=False, clock=NOW.timestamp)
    service = attach_summary(cloud, first_report=NOW - timedelta(days=days))
    with SimulatorThread(cloud) as thread:
        async with aiohttp.ClientSession() as session:
            client = SummaryClient(
                session, cloud.account_key, summary_url=thread.url, min_interval=0
            )
            wall, cpu = time.perf_counter(), time.thread_time()
            histories, _ = await client.history(addresses, NOW - timedelta(days=days), NOW)
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    rows = sum(served_rows for _, _, served_rows in service.served)
    hours = sum(len(h.energy.hours) for h in histories.values())
    return client.requests_sent, rows, wall, cpu, hours


def _serve_summary(meters: int, days: int, conn: Connection) -> None:
    """The Push simulator with its `/summary` until the parent says stop (own process)."""

    async def serve() -> None:
        addresses = [f"{300001001 + n:012d}" for n in range(meters)]
        cloud = PushSimulator(
            [SimMeter(a) for a in addresses], auto_poll=False, clock=NOW.timestamp
        )
        attach_summary(cloud, first_report=NOW - timedelta(days=days))
        conn.send((await cloud.start(), cloud.account_key))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await cloud.stop()

    asyncio.run(serve())


@contextmanager
def simulator_process(meters: int, days: int) -> Iterator[tuple[str, str]]:
    """(URL, account key) of the simulator in a process of its own.

    In a thread of the bench its page building (~0.1 s of Python per 1000 rows) competes with
    the event loop for the GIL and shows up as loop stalls that Home Assistant, whose summary
    service is on the internet, never has.
    """
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_summary, args=(meters, days, child), daemon=True
    )
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(30)


async def ha_backfill(meters: int, days: int) -> tuple[int, int, float, float, float, float]:
    """(requests, rows, wall s, loop CPU s, worst stall ms, worst loop CPU in a tick ms) in HA."""
    import tempfile

    from homeassistant.helpers import recorder as recorder_helper
    from homeassistant.helpers.recorder import get_instance
    from homeassistant.setup import async_setup_component
    from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
        async_test_home_assistant,
    )

    from custom_components.meterlink.push.history import HistoryImporter

    addresses = [f"{300001001 + n:012d}" for n in range(meters)]
    with (
        simulator_process(meters, days) as (url, account_key),
        tempfile.TemporaryDirectory() as config_dir,
    ):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            db_url = f"sqlite:///{config_dir}/home-assistant_v2.db"
            recorder_helper.async_initialize_recorder(hass)  # what bootstrap does first
            assert await async_setup_component(hass, "recorder", {"recorder": {"db_url": db_url}})
            await hass.async_block_till_done()
            async with aiohttp.ClientSession() as session:
                client = SummaryClient(
                    session,
                    account_key,
                    summary_url=url,
                    min_interval=0,
                    offload=hass.async_add_executor_job,
                )
                names = {address: f"Meter {address}" for address in addresses}
                importer = HistoryImporter(
                    hass, client, names, horizon=timedelta(days=days), now=lambda: NOW
                )
                stall, busy = [0.0], [0.0]
                running = True

                async def heartbeat() -> None:
                    # Lateness of a 10 ms tick, and the loop thread's own CPU during that tick:
                    # a late tick with little CPU waited for the GIL or a core, not for a
                    # callback that blocked the loop.
                    loop = asyncio.get_running_loop()
                    while running:
                        due, tick_cpu = loop.time() + 0.01, time.thread_time()
                        await asyncio.sleep(0.01)
                        stall[0] = max(stall[0], loop.time() - due)
                        busy[0] = max(busy[0], time.thread_time() - tick_cpu)

                beat = asyncio.create_task(heartbeat())
                wall, cpu = time.perf_counter(), time.thread_time()
                await importer.async_sync()
                await get_instance(hass).async_block_till_done()
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                running = False
                await beat
            rows = 2 * sum(p.hours_written for p in importer.progress.values())
            await hass.async_stop(force=True)
    return client.requests_sent, rows, wall, cpu, stall[0] * 1000, busy[0] * 1000


async def history_bench(sizes: list[int], days: int) -> None:
    """One table row per number of meters."""
    print(f"EKM Summary backfill of {days} days per meter from the simulator (own thread),")
    print("report=15 buckets, limit 1000 rows per request, no pacing.")
    print()
    print(
        f"{'meters':>6} {'meter-years':>11} {'requests':>8} {'rows':>8} {'hours':>7} "
        f"{'wall s':>7} {'client CPU s':>12}"
    )
    for meters in sizes:
        requests, rows, wall, cpu, hours = await backfill(meters, days)
        print(
            f"{meters:>6} {meters * days / 365:>11.1f} {requests:>8} {rows:>8} {hours:>7} "
            f"{wall:>7.1f} {cpu:>12.2f}"
        )
    print()
    print("In Home Assistant (importer + recorder, SQLite file):")
    print(
        f"{'meters':>6} {'requests':>8} {'rows':>8} {'wall s':>7} {'loop CPU s':>10} "
        f"{'max stall ms':>12} {'max busy ms':>11}"
    )
    for meters in sizes:
        requests, rows, wall, cpu, stall, busy = await ha_backfill(meters, days)
        print(
            f"{meters:>6} {requests:>8} {rows:>8} {wall:>7.1f} {cpu:>10.2f} {stall:>12.0f} "
            f"{busy:>11.0f}"
        )
    print("max stall: worst lateness of a 10 ms tick of the loop; max busy: the most CPU the")
    print("loop thread spent in one tick (a stall far above it waited for the GIL or a core).")
    print("at EKM's pace (1 request/s) add one second per request.")
