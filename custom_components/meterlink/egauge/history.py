"""eGauge register history as long-term statistics that MeterLink owns, hour by hour.

One pair of external statistics per power register, `meterlink:egauge_<serial>_<register>_
energy_import` and `..._energy_export` (kWh, sums only), from the meter's own 1 min rows: the
first run backfills from the horizon (default one year; the meter keeps what it keeps, and
rows it does not have are simply not there), every later run continues after the last stored
hour (`get_last_statistics`), so a restart never resets or repeats a sum. The hours are the
library's (`meters.egauge.history`, the same register-end arithmetic as the EKM history); the
rows written and the sums continued are `history_statistics`, shared with the EKM importer.

Unlike EKM uploads, a meter's rows never arrive late, so no trailing window is re-read. Each
register's state continues from its stored state, so it never goes down across runs either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util import slugify

from ..const import DOMAIN
from ..history_statistics import (
    CONF_HISTORY,
    DEFAULT_HORIZON,
    async_run_hourly,
    closed_end_ms,
    energy_metadata,
    history_available,
    horizon_of,
    hour_statistics,
)
from ..meters.egauge import EgaugeClient, Register
from ..meters.egauge.history import fetch_rows, power_registers, register_hours
from ..meters.energy_hours import HOUR_MS, EnergyHour
from ..meters.energy_hours import Register as Direction
from ..meters.errors import MeterError

_LOGGER = logging.getLogger(__name__)

STEP = 60
"""Seconds between the rows read: the meter's finest history beyond its last hour."""
CHUNK = timedelta(days=7)
"""Hours written per request round: a backfill interrupted resumes after the last chunk."""


def statistic_id(serial: str, register: str, direction: Direction) -> str:
    """`meterlink:egauge_g10400_grid_energy_import` (or `_export`)."""
    return f"{DOMAIN}:egauge_{slugify(serial)}_{slugify(register)}_energy_{direction.value}"


@dataclass(frozen=True, slots=True)
class _Cursor:
    """After the last stored hour: where the next hour starts, its states and sums."""

    start_ms: int
    states: tuple[float, float] | None
    sums: tuple[float, float]


class EgaugeHistoryImporter:
    """Keeps the history statistics of one eGauge meter's power registers complete."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: EgaugeClient,
        serial: str,
        name: Callable[[], str],
        *,
        horizon: timedelta = DEFAULT_HORIZON,
        now: Callable[[], datetime] = dt_util.utcnow,
        chunk: timedelta = CHUNK,
    ) -> None:
        self._hass = hass
        self._client = client
        self.serial = serial
        self._name = name
        self._horizon = horizon
        self._now = now
        self._chunk_ms = int(chunk / timedelta(milliseconds=1))
        self._lock = asyncio.Lock()
        self.imported_until: dict[str, str] = {}
        self.hours_written = 0
        self.runs = 0
        self.last_error: str | None = None

    async def async_sync(self) -> None:
        """Bring every power register up to the last settled hour; one run at a time.

        A library error ends the run; the next continues from what was written.
        """
        async with self._lock:
            try:
                await self._sync()
                self.last_error = None
            except MeterError as err:
                self.last_error = str(err)
                _LOGGER.warning("eGauge history import stopped: %s", err)
            finally:
                self.runs += 1

    def diagnostics(self) -> dict[str, Any]:
        """How far each register is; never the password."""
        return {
            "runs": self.runs,
            "last_error": self.last_error,
            "hours_written": self.hours_written,
            "imported_until": dict(self.imported_until),
        }

    @callback
    def async_request_sync(self, entry: ConfigEntry[Any]) -> None:
        """Run in the background unless a run is on its way."""
        if self._lock.locked():
            return
        entry.async_create_background_task(
            self._hass, self.async_sync(), f"{DOMAIN} eGauge history {entry.entry_id}"
        )

    async def _sync(self) -> None:
        registers = power_registers(await self._client.registers())
        # A meter whose clock is behind has not written the end row of the last hour yet.
        meter_now = dt_util.utc_from_timestamp(self._client.meter_now())
        end_ms = closed_end_ms(min(self._now(), meter_now))
        cursors = {r.name: await self._cursor(r.name, end_ms) for r in registers}
        if not cursors:
            return
        position = min(cursor.start_ms for cursor in cursors.values())
        while position < end_ms:
            chunk_end = min(position + self._chunk_ms, end_ms)
            fetched = await fetch_rows(
                self._client, position / 1000, chunk_end / 1000, STEP, lookback=0
            )
            energy = register_hours(
                fetched.rows, power_registers(fetched.registers), position / 1000, chunk_end / 1000
            )
            for register in registers:
                hours = energy.get(register.name)
                if hours is None:
                    continue
                cursor = cursors[register.name]
                own = [h for h in hours.hours if h.start_ms >= cursor.start_ms]
                if own:
                    cursors[register.name] = self._write(register, own, cursor)
            position = chunk_end

    def _write(self, register: Register, hours: list[EnergyHour], cursor: _Cursor) -> _Cursor:
        if cursor.states is not None:  # states continue from the stored ones
            hours = _continued(hours, cursor.states)
        name = self._name()
        for direction, start_sum in zip(Direction, cursor.sums, strict=True):
            rows, _ = hour_statistics(hours, direction, start_sum)
            metadata = energy_metadata(
                statistic_id(self.serial, register.name, direction),
                f"{name} {register.name} energy {direction.value} (eGauge history)",
            )
            async_add_external_statistics(self._hass, metadata, rows)
        last = hours[-1]
        imported = cursor.sums[0] + sum(h.import_kwh for h in hours)
        exported = cursor.sums[1] + sum(h.export_kwh for h in hours)
        self.hours_written += len(hours)
        self.imported_until[register.name] = dt_util.utc_from_timestamp(
            (last.start_ms + HOUR_MS) / 1000
        ).isoformat()
        return _Cursor(
            last.start_ms + HOUR_MS, (last.import_total, last.export_total), (imported, exported)
        )

    async def _cursor(self, register: str, end_ms: int) -> _Cursor:
        """After the last hour both statistics have, else from the horizon."""
        last: list[dict[str, Any]] = []
        for direction in Direction:
            ident = statistic_id(self.serial, register, direction)
            found = await get_instance(self._hass).async_add_executor_job(
                get_last_statistics, self._hass, 1, ident, False, {"state", "sum"}
            )
            last.extend(dict(row) for row in found.get(ident, []))
        if len(last) == 2 and last[0]["start"] == last[1]["start"]:
            return _Cursor(
                int(last[0]["start"] * 1000) + HOUR_MS,
                (float(last[0]["state"]), float(last[1]["state"])),
                (float(last[0]["sum"]), float(last[1]["sum"])),
            )
        horizon_ms = int((self._now() - self._horizon).timestamp() * 1000)
        return _Cursor(min(horizon_ms // HOUR_MS * HOUR_MS, end_ms), None, (0.0, 0.0))


def _continued(hours: list[EnergyHour], states: tuple[float, float]) -> list[EnergyHour]:
    """The hours with totals that continue `states` (this run's totals start elsewhere)."""
    result = []
    imported, exported = states
    for hour in hours:
        imported += hour.import_kwh
        exported += hour.export_kwh
        result.append(
            EnergyHour(hour.start_ms, hour.import_kwh, hour.export_kwh, imported, exported)
        )
    return result


async def async_clear_egauge_history(
    hass: HomeAssistant, client: EgaugeClient, serial: str
) -> None:
    """Delete the meter's history statistics (the option turned off)."""
    try:
        registers = power_registers(await client.registers())
    except MeterError as err:
        _LOGGER.warning(
            "eGauge history not cleared (the meter did not list its registers): %s", err
        )
        return
    ids = [statistic_id(serial, r.name, d) for r in registers for d in Direction]
    if ids:
        get_instance(hass).async_clear_statistics(ids)


def async_start_egauge_history(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    client: EgaugeClient,
    serial: str,
    name: Callable[[], str],
    *,
    now: Callable[[], datetime] = dt_util.utcnow,
) -> EgaugeHistoryImporter | None:
    """Keep the meter's history complete while the entry is loaded (None: off, no recorder).

    One run now in the background (the backfill, or the catch-up after a restart), then one
    every hour at :20 for the hours that closed.
    """
    if not history_available(hass):
        return None
    horizon = horizon_of(entry.options.get(CONF_HISTORY))
    if horizon is None:
        hass.async_create_task(async_clear_egauge_history(hass, client, serial), eager_start=True)
        return None
    importer = EgaugeHistoryImporter(hass, client, serial, name, horizon=horizon, now=now)
    async_run_hourly(hass, entry, lambda: importer.async_request_sync(entry))
    return importer
