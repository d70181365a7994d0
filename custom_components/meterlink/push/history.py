"""EKM Summary history as long-term statistics that MeterLink owns, hour by hour, never twice.

One pair of external statistics per meter, `meterlink:ekm_<address>_energy_import` and
`..._energy_export` (kWh, sums only), for the Energy dashboard. Rows are written for closed
and settled hours only (ended `SETTLE` ago); `state` is the register at the hour's end and
`sum` the running total, continued from the stored rows, so a restart, a reload or a
reinstall never resets a sum (reference mqtt-summary-statistics.md B2/B3).

Every run re-reads the trailing `RESYNC` hours from an anchor row older than them and rewrites
every row after it: uploads a gateway buffered during an outage then land in their own hours,
and the later sums stay consistent (the recorder does not recompute them). A backfill is
written chunk by chunk, so an interrupted one resumes from its last row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.recorder.models import StatisticData, StatisticMetaData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from ..const import DEV_PUSH_URL, DOMAIN
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
from ..meters.energy_hours import (
    HOUR_MS,
    Baseline,
    EnergyHour,
    HourlyEnergy,
    Register,
    RegisterDrop,
    hourly_energy,
)
from ..meters.errors import MeterError
from ..meters.push import (
    DEFAULT_SUMMARY_PACE,
    DEFAULT_SUMMARY_URL,
    SummaryBucket,
    SummaryClient,
    opening_registers,
    register_sample,
)
from .gap_fill import async_fill_gaps, energy_by_hour

_LOGGER = logging.getLogger(__name__)

CONF_FILL_GAPS = "fill_gaps"  # options: fill the live energy sensors' outage hours
ISSUE_METER_REPLACED = "meter_replaced"

RESYNC = timedelta(hours=48)
CHUNK = timedelta(days=30)
WRITE_HOURS = 168
"""Rows per statistic handed to the recorder at once: a week, then the loop runs others."""
_ANCHOR_ROWS = int(RESYNC / timedelta(hours=1)) + 2
LIVE_SENSOR_KEYS = {Register.IMPORT: "import_energy", Register.EXPORT: "export_energy"}
"""The description keys of the live energy sensors whose outage hours are filled."""

# Where the Summary API is and how far apart its requests go (tests point these elsewhere).
SUMMARY_URL = DEV_PUSH_URL or DEFAULT_SUMMARY_URL
SUMMARY_PACE = DEFAULT_SUMMARY_PACE

type LiveSensors = Callable[[str], Mapping[Register, str]]
"""A meter's live energy sensors (entity ids) whose flat outage hours are filled."""


def statistic_id(address: str, register: Register) -> str:
    """`meterlink:ekm_000300001162_energy_import` (or `_export`)."""
    return f"{DOMAIN}:ekm_{address}_energy_{register.value}"


def statistic_metadata(address: str, register: Register, device_name: str) -> StatisticMetaData:
    """Metadata named after the device, so the Energy dashboard's picker shows it plainly."""
    return energy_metadata(
        statistic_id(address, register), f"{device_name} energy {register.value} (EKM history)"
    )


@dataclass(frozen=True, slots=True)
class Anchor:
    """A stored hour both statistics have: the rows after it are (re)written from it."""

    start_ms: int
    registers: Baseline
    import_sum: float
    export_sum: float


@dataclass(slots=True)
class MeterProgress:
    """How far one meter's history is, for diagnostics and the progress sensor."""

    name: str
    imported_until: datetime | None = None
    hours_written: int = 0
    backfilled: bool = False
    resets: list[dict[str, Any]] = field(default_factory=list)
    gap_fills: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Cursor:
    start_ms: int
    registers: Baseline | None
    sums: tuple[float, float]


class HistoryImporter:
    """Keeps the history statistics of one EKM Push key's meters complete."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: SummaryClient,
        meters: Mapping[str, str],
        *,
        horizon: timedelta = DEFAULT_HORIZON,
        now: Callable[[], datetime] = dt_util.utcnow,
        chunk: timedelta = CHUNK,
        on_progress: Callable[[], None] | None = None,
        live_sensors: LiveSensors | None = None,
    ) -> None:
        self._hass = hass
        self._live_sensors = live_sensors
        self.names: Callable[[], Mapping[str, str]] = lambda: self.meters
        self._run_hours: dict[str, list[EnergyHour]] = {}
        self._client = client
        self.meters = dict(meters)  # address -> device name
        self._horizon = horizon
        self._now = now
        self._chunk_ms = int(chunk / timedelta(milliseconds=1))
        self._listeners: list[Callable[[], None]] = [on_progress] if on_progress else []
        self._lock = asyncio.Lock()
        self.progress = {address: MeterProgress(name) for address, name in self.meters.items()}
        self.running = False
        self.runs = 0
        self.last_error: str | None = None
        self.last_run: datetime | None = None

    # Public --------------------------------------------------------------------------------

    def closed_end_ms(self) -> int:
        """Start of the first hour not yet closed and settled (rows stop before it)."""
        return closed_end_ms(self._now())

    async def async_sync(self) -> None:
        """Bring every meter's statistics up to the last settled hour; one run at a time.

        Library errors end the run (the next one continues from what was written); they are
        kept in `last_error` for diagnostics.
        """
        async with self._lock:
            self.running = True
            self._notify()
            try:
                await self._sync()
                self.last_error = None
            except MeterError as err:
                self.last_error = str(err)
                _LOGGER.warning("EKM history import stopped: %s", err)
            finally:
                self.running = False
                self.runs += 1
                self.last_run = self._now()
                self._notify()

    def diagnostics(self) -> dict[str, Any]:
        """Progress per meter and the last error; never the key."""
        return {
            "running": self.running,
            "runs": self.runs,
            "last_run": self.last_run.isoformat() if self.last_run else None,
            "last_error": self.last_error,
            "requests": self._client.requests_sent,
            "meters": {
                address: {
                    "imported_until": p.imported_until.isoformat() if p.imported_until else None,
                    "hours_written": p.hours_written,
                    "backfilled": p.backfilled,
                    "resets": p.resets,
                    "gap_fills": p.gap_fills,
                }
                for address, p in self.progress.items()
            },
        }

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` whenever a run starts, writes a chunk or ends; returns the undo."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def imported_until(self) -> datetime | None:
        """The oldest meter's end of imported history: every hour before it is in (or None)."""
        ends = [p.imported_until for p in self.progress.values()]
        if not ends or any(end is None for end in ends):
            return None
        return min(end for end in ends if end is not None)

    def meter_progress(self) -> dict[str, dict[str, Any]]:
        """Per meter address: its name, how far it is, whether its backfill ended; no key."""
        return {
            address: {
                "name": p.name,
                "imported_until": p.imported_until.isoformat() if p.imported_until else None,
                "hours_written": p.hours_written,
                "backfilled": p.backfilled,
            }
            for address, p in self.progress.items()
        }

    def set_meters(self, meters: Mapping[str, str]) -> None:
        """The meters (address -> device name) the next run imports."""
        self.meters = dict(meters)
        for address, name in self.meters.items():
            if address in self.progress:
                self.progress[address].name = name
            else:
                self.progress[address] = MeterProgress(name)

    @callback
    def async_request_sync(self, entry: ConfigEntry[Any]) -> None:
        """Run in the background unless a run is on its way (it will see the same hours)."""
        if self._lock.locked():
            return
        entry.async_create_background_task(
            self._hass, self.async_sync(), f"{DOMAIN} EKM history {entry.entry_id}"
        )

    # Runs ----------------------------------------------------------------------------------

    async def _sync(self) -> None:
        end_ms = self.closed_end_ms()
        cursors: dict[str, _Cursor] = {}
        for address in self.meters:
            cursors[address] = await self._start_cursor(address, end_ms)
        # Meters starting at the same hour share their requests (`~` in one URL).
        groups: dict[int, list[str]] = {}
        for address, cursor in cursors.items():
            groups.setdefault(cursor.start_ms, []).append(address)
        self._run_hours = {}
        for start_ms, addresses in sorted(groups.items()):
            await self._fetch_and_write(addresses, start_ms, end_ms, cursors)
        for address in self.meters:
            self.progress[address].backfilled = True
        if self._live_sensors is not None:
            await self._fill_live_sensors(self._live_sensors)

    async def _fill_live_sensors(self, live_sensors: LiveSensors) -> None:
        """Give the live sensors' flat outage hours the energy this run read (gap_fill.py)."""
        for address, hours in self._run_hours.items():
            since = dt_util.utc_from_timestamp(hours[0].start_ms / 1000)
            for register, entity_id in live_sensors(address).items():
                energy = energy_by_hour(hours, register)
                for fill in await async_fill_gaps(self._hass, entity_id, energy, since):
                    self.progress[address].gap_fills.append(
                        {
                            "entity_id": entity_id,
                            "hours": [_utc(start).isoformat() for start, _, _ in fill.rows],
                            "energy_kwh": fill.energy_kwh,
                            "scale": round(fill.scale, 6),
                        }
                    )
                    _LOGGER.info(
                        "Filled %s flat hours of %s after an outage with %s kWh of EKM history",
                        len(fill.rows),
                        entity_id,
                        fill.energy_kwh,
                    )

    async def _fetch_and_write(
        self, addresses: list[str], start_ms: int, end_ms: int, cursors: dict[str, _Cursor]
    ) -> None:
        position = start_ms
        while position < end_ms:
            chunk_end = min(position + self._chunk_ms, end_ms)
            result = await self._client.buckets(addresses, _utc(position), _utc(chunk_end))
            for address in addresses:
                if address in result.refused:
                    continue
                own = result.buckets.get(address, [])
                if own:
                    cursors[address] = await self._write(address, own, cursors[address])
            position = max(chunk_end, result.data_start_ms(addresses))
            self._notify()

    async def _write(self, address: str, buckets: list[SummaryBucket], cursor: _Cursor) -> _Cursor:
        # The hour arithmetic and the rows of a chunk (thousands of buckets) run in the
        # executor, and the rows reach the recorder in slices: the loop never waits on them.
        energy, imports, exports, sums = await self._hass.async_add_executor_job(
            _chunk_rows, buckets, cursor
        )
        if not energy.hours:
            return cursor
        # Named when written: at the first run the entry's devices may not exist yet.
        name = self.names().get(address, self.meters[address])
        self.progress[address].name = name
        import_meta = statistic_metadata(address, Register.IMPORT, name)
        export_meta = statistic_metadata(address, Register.EXPORT, name)
        for first in range(0, len(imports), WRITE_HOURS):
            last = first + WRITE_HOURS
            async_add_external_statistics(self._hass, import_meta, imports[first:last])
            async_add_external_statistics(self._hass, export_meta, exports[first:last])
            await asyncio.sleep(0)
        self._record(address, energy.hours[-1], len(energy.hours), energy.drops)
        self._run_hours.setdefault(address, []).extend(energy.hours)
        last_hour = energy.hours[-1]
        return _Cursor(last_hour.start_ms + HOUR_MS, energy.end, sums)

    def _record(
        self, address: str, last: EnergyHour, hours: int, drops: tuple[RegisterDrop, ...]
    ) -> None:
        progress = self.progress[address]
        progress.imported_until = dt_util.utc_from_timestamp((last.start_ms + HOUR_MS) / 1000)
        progress.hours_written += hours
        for drop in drops:
            if drop.reset:
                progress.resets.append(
                    {
                        "register": drop.register.value,
                        "at": _utc(drop.as_of_ms).isoformat(),
                        "before": drop.before,
                        "after": drop.after,
                    }
                )
                _LOGGER.warning(
                    "EKM meter %s: %s register went from %s to %s (meter replaced?); "
                    "its history continues from the new value",
                    address,
                    drop.register.value,
                    drop.before,
                    drop.after,
                )
                ir.async_create_issue(
                    self._hass,
                    DOMAIN,
                    f"{ISSUE_METER_REPLACED}_{address}",
                    is_fixable=False,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key=ISSUE_METER_REPLACED,
                    translation_placeholders={
                        "meter": progress.name,
                        "register": drop.register.value,
                        "before": f"{drop.before:g}",
                        "after": f"{drop.after:g}",
                        "at": _utc(drop.as_of_ms).isoformat(),
                    },
                )

    # Where to continue ------------------------------------------------------------------------

    async def _start_cursor(self, address: str, end_ms: int) -> _Cursor:
        """From an anchor row older than the re-sync window, else from the horizon."""
        rows = await self._last_rows(address)
        window_start = end_ms - int(RESYNC / timedelta(milliseconds=1))
        anchor = _anchor(rows, window_start)
        if anchor is not None:
            return _Cursor(
                anchor.start_ms + HOUR_MS, anchor.registers, (anchor.import_sum, anchor.export_sum)
            )
        if rows[Register.IMPORT] or rows[Register.EXPORT]:
            # A history younger than the window: all of it is re-read, sums from zero again.
            first = min(int(row["start"] * 1000) for kind in rows.values() for row in kind)
            return _Cursor(first, None, (0.0, 0.0))
        horizon_start = _ms(self._now() - self._horizon) // HOUR_MS * HOUR_MS
        return _Cursor(horizon_start, None, (0.0, 0.0))

    async def _last_rows(self, address: str) -> dict[Register, list[dict[str, Any]]]:
        rows: dict[Register, list[dict[str, Any]]] = {}
        for register in Register:
            ident = statistic_id(address, register)
            found = await get_instance(self._hass).async_add_executor_job(
                get_last_statistics, self._hass, _ANCHOR_ROWS, ident, False, {"state", "sum"}
            )
            rows[register] = [dict(row) for row in found.get(ident, [])]
        return rows

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


async def async_clear_history(hass: HomeAssistant, addresses: Iterable[str]) -> None:
    """Delete the history statistics of these meters (option off, entry deleted)."""
    if not history_available(hass):
        return
    ids = [statistic_id(a, register) for a in addresses for register in Register]
    if ids:
        get_instance(hass).async_clear_statistics(ids)


def async_start_entry_history(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    key: str,
    addresses: Callable[[], Iterable[str]],
    entity_unique_id: Callable[[str, str], str],
) -> HistoryImporter | None:
    """An EKM Push entry's history, as its options say (None: off, or no recorder).

    `addresses` gives the entry's meters at each run (meters added later join in);
    `entity_unique_id(address, key)` finds the live energy sensors for the gap fill.
    """
    horizon = horizon_of(entry.options.get(CONF_HISTORY))
    if horizon is None:
        hass.async_create_task(async_clear_history(hass, addresses()), eager_start=True)
        return None
    client = SummaryClient(
        async_get_clientsession(hass),
        key,
        summary_url=SUMMARY_URL,
        min_interval=SUMMARY_PACE,
        offload=hass.async_add_executor_job,
    )
    live = None
    if entry.options.get(CONF_FILL_GAPS, True):

        def live(address: str) -> dict[Register, str]:
            registry = er.async_get(hass)
            found = {
                register: registry.async_get_entity_id(
                    "sensor", DOMAIN, entity_unique_id(address, sensor_key)
                )
                for register, sensor_key in LIVE_SENSOR_KEYS.items()
            }
            return {register: entity for register, entity in found.items() if entity}

    return async_start_history(
        hass,
        entry,
        client,
        lambda: device_names(hass, entry.entry_id, addresses()),
        horizon=horizon,
        live_sensors=live,
    )


def device_names(hass: HomeAssistant, entry_id: str, addresses: Iterable[str]) -> dict[str, str]:
    """Address -> the entry's meter device's name as the user sees it (their own name first)."""
    registry = dr.async_get(hass)
    names = {}
    for address in addresses:
        device = registry.async_get_device_by_identifier((DOMAIN, address), entry_id)
        printed = address[3:] if address.startswith("000") else address
        names[address] = (
            (device.name_by_user or device.name) if device else None
        ) or f"EKM meter {printed}"
    return names


async def async_clear_entry_history(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Delete the history statistics of every meter device the entry has."""
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    await async_clear_history(
        hass,
        (
            identifier
            for device in devices
            for domain, identifier in device.identifiers
            if domain == DOMAIN and identifier.isdigit()
        ),
    )


def async_start_history(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    client: SummaryClient,
    meters: Mapping[str, str] | Callable[[], Mapping[str, str]],
    *,
    horizon: timedelta = DEFAULT_HORIZON,
    now: Callable[[], datetime] = dt_util.utcnow,
    on_progress: Callable[[], None] | None = None,
    live_sensors: LiveSensors | None = None,
) -> HistoryImporter | None:
    """Keep `meters`' history complete for as long as the entry is loaded (None: no recorder).

    One run now, in the background (the first backfill, or the catch-up after a restart),
    then one every hour at :20 for the hours that closed; `HistoryImporter.async_request_sync`
    starts one early (after a stream reconnect, say).
    """
    if not history_available(hass):
        return None
    current = meters if callable(meters) else lambda: meters
    importer = HistoryImporter(
        hass,
        client,
        current(),
        horizon=horizon,
        now=now,
        on_progress=on_progress,
        live_sensors=live_sensors,
    )

    @callback
    def _run() -> None:
        importer.set_meters(current())
        importer.names = current
        importer.async_request_sync(entry)

    async_run_hourly(hass, entry, _run)
    return importer


def _chunk_rows(
    buckets: list[SummaryBucket], cursor: _Cursor
) -> tuple[HourlyEnergy, list[StatisticData], list[StatisticData], tuple[float, float]]:
    """A chunk's hours and both registers' rows from the cursor on (runs in the executor)."""
    baseline = cursor.registers or opening_registers(buckets[0])
    energy = hourly_energy((register_sample(b) for b in buckets), baseline=baseline)
    imports, import_sum = hour_statistics(energy.hours, Register.IMPORT, cursor.sums[0])
    exports, export_sum = hour_statistics(energy.hours, Register.EXPORT, cursor.sums[1])
    return energy, imports, exports, (import_sum, export_sum)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _utc(ms: int) -> datetime:
    return dt_util.utc_from_timestamp(ms / 1000)


def _anchor(rows: Mapping[Register, list[dict[str, Any]]], before_ms: int) -> Anchor | None:
    """The latest hour before `before_ms` that both statistics have, with state and sum."""
    exports = {int(row["start"] * 1000): row for row in rows[Register.EXPORT]}
    for row in sorted(rows[Register.IMPORT], key=lambda r: -float(r["start"])):
        start_ms = int(row["start"] * 1000)
        other = exports.get(start_ms)
        if start_ms >= before_ms or other is None:
            continue
        values = (row.get("state"), row.get("sum"), other.get("state"), other.get("sum"))
        if any(value is None for value in values):
            continue
        return Anchor(
            start_ms,
            Baseline(float(row["state"]), float(other["state"])),
            float(row["sum"]),
            float(other["sum"]),
        )
    return None
