"""`python -m simulator.bench history`: what backfilling EKM Summary history costs.

The Push simulator's `/summary` (simulator/push_summary.py) runs in a thread of its own with
meters that first reported a year before "now"; the Summary client backfills every meter's
whole year of quarter-hour buckets into hourly energy on this thread's event loop. Printed per
size: requests, answer rows, wall time, and the CPU time of the client's thread (fetching,
parsing and the hour arithmetic; the simulator's CPU is its own thread's). The client's
pacing is off here: against EKM one request a second adds the request count in seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import aiohttp

from custom_components.meterlink.meters.push.summary_client import SummaryClient

from .bench_push import SimulatorThread
from .ekm_meter import SimMeter
from .ekm_push import PushSimulator
from .push_summary import attach_summary

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
    print("at EKM's pace (1 request/s) add one second per request.")
