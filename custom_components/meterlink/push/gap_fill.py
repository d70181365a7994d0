"""Gap fill of the live energy sensors' own statistics after an outage, from EKM history.

When Home Assistant was down (or the meter unavailable) for hours, the recorder compiles those
hours flat and puts all their energy into the first hour compiled afterwards. The Summary API
knows what each of those hours really used, so the flat hours are rewritten with it
(`async_import_statistics`, the entity's own statistic), their sums continuing from the last
normal hour. The recipe was verified against the pinned recorder (reference
mqtt-summary-statistics.md B2/B3):

* only hours that are already compiled, strictly between the last normal hour and the first
  hour compiled after the outage, are written; that hour and every later one are never
  touched (they must keep matching the short-term statistics the next compile continues
  from), and an hour not compiled yet is never written (that breaks the next hourly compile
  of every sensor);
* the filled energy is scaled down when the sensor later recorded less than the summary says,
  so no sum ever exceeds the sensor's own next sum: no negative hour, the total unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.recorder.models import StatisticData, StatisticMetaData
from homeassistant.components.recorder.statistics import (
    async_import_statistics,
    get_metadata,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from ..meters.energy_hours import HOUR_MS, EnergyHour, Register

FLAT = 1e-9
"""An hour whose sum moved less than this is flat."""


@dataclass(frozen=True, slots=True)
class SensorHour:
    """One compiled hourly row of a sensor's statistics."""

    start_ms: int
    state: float | None
    sum: float


@dataclass(frozen=True, slots=True)
class Fill:
    """One outage's flat hours as rewritten: rows (start, state, sum) and the scale used."""

    rows: tuple[tuple[int, float | None, float], ...]
    energy_kwh: float
    scale: float
    restart_hour_ms: int


def plan_fills(sensor: Sequence[SensorHour], energy: Mapping[int, float]) -> list[Fill]:
    """The fills of every flat run between two compiled hours, from summary `energy` per hour.

    A run qualifies when its hours follow a compiled hour without gaps, the summary saw energy
    in it, and the hour right after it (the first compiled after the outage) rose.
    """
    rows = sorted(sensor, key=lambda row: row.start_ms)
    fills: list[Fill] = []
    index = 1
    while index < len(rows):
        if not _flat(rows[index - 1], rows[index]):
            index += 1
            continue
        before = rows[index - 1]
        end = index
        while end < len(rows) and _flat(rows[end - 1], rows[end]):
            end += 1
        run = rows[index:end]
        index = end
        if end >= len(rows) or not _consecutive([before, *run, rows[end]]):
            continue
        after = rows[end]
        wanted = [max(0.0, energy.get(row.start_ms, 0.0)) for row in run]
        total = sum(wanted)
        available = after.sum - before.sum
        if total <= FLAT or available <= FLAT:
            continue
        scale = min(1.0, available / total)
        running = 0.0
        filled = []
        for row, kwh in zip(run, wanted, strict=True):
            running += kwh * scale
            state = None if before.state is None else round(before.state + running, 6)
            filled.append((row.start_ms, state, round(before.sum + running, 6)))
        fills.append(Fill(tuple(filled), round(running, 6), scale, after.start_ms))
    return fills


def _flat(previous: SensorHour, row: SensorHour) -> bool:
    return abs(row.sum - previous.sum) < FLAT


def _consecutive(rows: Sequence[SensorHour]) -> bool:
    return all(b.start_ms - a.start_ms == HOUR_MS for a, b in itertools.pairwise(rows))


def energy_by_hour(hours: Iterable[EnergyHour], register: Register) -> dict[int, float]:
    """The summary's energy per hour start for one register."""
    if register is Register.IMPORT:
        return {hour.start_ms: hour.import_kwh for hour in hours}
    return {hour.start_ms: hour.export_kwh for hour in hours}


async def async_fill_gaps(
    hass: HomeAssistant, entity_id: str, energy: Mapping[int, float], since: datetime
) -> list[Fill]:
    """Rewrite the sensor's flat outage hours since `since`; the fills written (maybe none)."""
    recorder = get_instance(hass)
    metadata = await recorder.async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={entity_id})
    )
    if entity_id not in metadata:
        return []
    _, meta = metadata[entity_id]
    if not meta["has_sum"]:
        return []
    found = await recorder.async_add_executor_job(
        statistics_during_period,
        hass,
        since,
        None,
        {entity_id},
        "hour",
        None,
        {"state", "sum"},
    )
    sensor = [
        SensorHour(int(row["start"] * 1000), _number(row.get("state")), total)
        for row in found.get(entity_id, [])
        if (total := _number(row.get("sum"))) is not None
    ]
    fills = plan_fills(sensor, energy)
    if not fills:
        return []
    statistics: list[StatisticData] = []
    for fill in fills:
        for start, state, total in fill.rows:
            row = StatisticData(start=dt_util.utc_from_timestamp(start / 1000), sum=total)
            if state is not None:
                row["state"] = state
            statistics.append(row)
    async_import_statistics(hass, _import_metadata(meta, entity_id), statistics)
    return fills


def _import_metadata(meta: Mapping[str, Any], entity_id: str) -> StatisticMetaData:
    """The sensor's own metadata, as the recorder requires it for an entity's statistics."""
    return StatisticMetaData(
        mean_type=meta["mean_type"],
        has_sum=True,
        name=None,
        source="recorder",
        statistic_id=entity_id,
        unit_class=meta.get("unit_class"),
        unit_of_measurement=meta.get("unit_of_measurement"),
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
