"""The hours a correct client must report, computed from the simulator's truth alone.

For each hour with reads: the registers at its last read, and the energy since the last read
before the hour (or since the hour's own first read for a meter's very first hour). This uses
only the simulator's read times and register function, never the library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from simulator.ekm.meter import SimMeter
from simulator.ekm.push_cloud import PushSimulator
from simulator.ekm.push_summary import SummaryService, attach_summary

HOUR_MS = 3_600_000
NOW = datetime(2026, 11, 20, 12, 7, 30, tzinfo=UTC)
FIRST_REPORT = NOW - timedelta(days=40)
METER_A = "000300001001"
METER_B = "000300001002"


@dataclass(frozen=True)
class TruthHour:
    start: datetime
    import_kwh: float
    export_kwh: float
    import_total: float
    export_total: float


def truth_hours(
    service: SummaryService, meter: str, start: datetime, end: datetime
) -> list[TruthHour]:
    """Every hour starting in [start, end) that has reads, from the truth."""
    hours = []
    first_hour = int(start.timestamp() * 1000) // HOUR_MS * HOUR_MS
    for hour in range(first_hour, int(end.timestamp() * 1000), HOUR_MS):
        reads = service.reads(meter, hour, hour + HOUR_MS)
        if not reads:
            continue
        before = service.last_read(meter, hour)
        opening = service.registers_at(meter, before if before is not None else reads[0])
        closing = service.registers_at(meter, reads[-1])
        hours.append(
            TruthHour(
                datetime.fromtimestamp(hour / 1000, UTC),
                round(closing[0] - opening[0], 6),
                round(closing[1] - opening[1], 6),
                closing[0],
                closing[1],
            )
        )
    return hours


@dataclass
class SummarySetup:
    cloud: PushSimulator
    service: SummaryService
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.cloud.base_url


@pytest.fixture
async def summary_sim() -> AsyncIterator[SummarySetup]:
    cloud = PushSimulator(
        [SimMeter(METER_A), SimMeter(METER_B)], auto_poll=False, clock=NOW.timestamp
    )
    service = attach_summary(cloud, first_report=FIRST_REPORT)
    await cloud.start()
    async with aiohttp.ClientSession() as session:
        yield SummarySetup(cloud, service, session)
    await cloud.stop()
