"""The EKM Summary API of the Push simulator: `/summary?report=15` from a register history.

Each meter gets a `RegisterHistory`: its import and export registers as a closed-form function
of time since a chosen first report (a daily load curve and a daily solar curve integrated
exactly, floored to the meter's resolution like a real register), starting from the registers
the `SimMeter` shows. The gateway reads every `interval_s` seconds; each 15-minute bucket
summarises the reads in it (`First Last Min Max Diff DeltaMax` of `kWh_Tot` and
`Rev_kWh_Tot`, `Average Min Max StdDev` of `RMS_Watts_Tot`), the way EKM's service does.

So a test can always ask the truth: `registers_at(ms)`, `reads(meter, start, end)` (the reads
the service has, after `faults.hidden` took some away) and `last_read(meter, before)`.
`SummaryFaults` stages the rest: missing quarters (`drop_quarters`), newest-first answers, an
HTTP 200 "Error..." body, API status codes, HTTP statuses (429 with Retry-After).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from .push_cloud import PushSimulator, meter_truth

QUARTER_MS = 900_000
DAY_S = 86_400.0
MAX_LIMIT = 1000
ENERGY_FIELDS = ("kWh_Tot", "Rev_kWh_Tot")
ENERGY_STATS = ("First", "Last", "Min", "Max", "Diff", "DeltaMax")
POWER_FIELD = "RMS_Watts_Tot"
POWER_STATS = ("Average", "Min", "Max", "StdDev")


@dataclass
class RegisterHistory:
    """One meter's registers over time: `import_kwh(t) = base + integral of the load curve`.

    Load: `load_w + load_swing_w * sin(2 pi t / day + phase)`; solar export:
    `solar_w + solar_swing_w * sin(...)`, both never negative. `swap_at_ms` replaces the meter
    by a new one whose registers start at zero (a register that goes down).
    """

    first_report_ms: int
    base_import_kwh: float
    base_export_kwh: float
    scale: int = 2
    interval_s: int = 60
    load_w: float = 900.0
    load_swing_w: float = 600.0
    solar_w: float = 350.0
    solar_swing_w: float = 300.0
    phase: float = 0.0
    swap_at_ms: int | None = None

    def _integral_kwh(self, mean_w: float, swing_w: float, seconds: float, shift: float) -> float:
        omega = 2 * math.pi / DAY_S
        joules = mean_w * seconds - swing_w / omega * (
            math.cos(omega * seconds + shift) - math.cos(shift)
        )
        return joules / 3.6e6

    def _energies(self, ms: int) -> tuple[float, float]:
        seconds = max(0.0, (ms - self.first_report_ms) / 1000)
        return (
            self._integral_kwh(self.load_w, self.load_swing_w, seconds, self.phase),
            self._integral_kwh(self.solar_w, self.solar_swing_w, seconds, self.phase + math.pi),
        )

    def registers_at(self, ms: int) -> tuple[float, float]:
        """(import, export) registers in kWh at `ms`, at the meter's resolution."""
        imported, exported = self._energies(ms)
        base_import, base_export = self.base_import_kwh, self.base_export_kwh
        if self.swap_at_ms is not None and ms >= self.swap_at_ms:
            swap_import, swap_export = self._energies(self.swap_at_ms)
            imported, exported = imported - swap_import, exported - swap_export
            base_import = base_export = 0.0
        factor = 10**self.scale
        return (
            math.floor((base_import + imported) * factor + 1e-9) / factor,
            math.floor((base_export + exported) * factor + 1e-9) / factor,
        )

    def watts_at(self, ms: int) -> float:
        """Total power (both directions) at `ms`, for the RMS_Watts_Tot statistics."""
        seconds = (ms - self.first_report_ms) / 1000
        angle = 2 * math.pi * seconds / DAY_S + self.phase
        return (self.load_w + self.load_swing_w * math.sin(angle)) + (
            self.solar_w + self.solar_swing_w * math.sin(angle + math.pi)
        )

    def read_times(self, start_ms: int, end_ms: int) -> range:
        """Times of the gateway's reads in [start, end) (from the first report on)."""
        step = self.interval_s * 1000
        start_ms = max(start_ms, self.first_report_ms)
        first = self.first_report_ms + -(-(start_ms - self.first_report_ms) // step) * step
        return range(first, max(first, end_ms), step)


@dataclass
class SummaryFaults:
    """Misbehaviour of `/summary`; `times` limits the HTTP/API faults to that many requests."""

    hidden: Callable[[str, int], bool] | None = None
    newest_first: bool = False
    http_status: int | None = None
    retry_after: str | None = "1"
    api_code: int | None = None
    error_text: str | None = None
    values_as_strings: bool = False
    times: int | None = None

    def drop_quarters(self, starts: Sequence[int], meter: str | None = None) -> None:
        """Lose every read of the quarters starting at `starts` (of one meter or all)."""
        lost = {start - start % QUARTER_MS for start in starts}
        previous = self.hidden

        def hidden(address: str, read_ms: int) -> bool:
            if (meter is None or address == meter) and read_ms - read_ms % QUARTER_MS in lost:
                return True
            return previous is not None and previous(address, read_ms)

        self.hidden = hidden

    def clear(self) -> None:
        """Serve normally again."""
        self.hidden = self.http_status = self.api_code = self.error_text = self.times = None
        self.newest_first = self.values_as_strings = False


class SummaryRefusal(Exception):
    """An API status code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SummaryService:
    """`/summary` over a `PushSimulator`'s meters and keys (install with `install`)."""

    visible: Callable[[str], list[str] | None]
    histories: dict[str, RegisterHistory]
    clock: Callable[[], float] = time.time
    faults: SummaryFaults = field(default_factory=SummaryFaults)
    served: list[tuple[int, tuple[str, ...], int]] = field(default_factory=list)
    """(HTTP status, meters asked, rows served) of every request."""

    # Truth ------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The service's present: no read exists after it."""
        return int(self.clock() * 1000)

    def reads(self, meter: str, start_ms: int, end_ms: int) -> list[int]:
        """Times of the reads the service holds for `meter` in [start, end)."""
        history = self.histories[meter]
        hidden = self.faults.hidden
        return [
            t
            for t in history.read_times(start_ms, min(end_ms, self.now_ms() + 1))
            if hidden is None or not hidden(meter, t)
        ]

    def last_read(self, meter: str, before_ms: int) -> int | None:
        """The latest read the service holds before `before_ms` (searching back to the start)."""
        history = self.histories[meter]
        end = before_ms
        while end > history.first_report_ms:
            start = max(history.first_report_ms, end - 7 * 24 * 3_600_000)
            found = self.reads(meter, start, end)
            if found:
                return found[-1]
            end = start
        return None

    def registers_at(self, meter: str, ms: int) -> tuple[float, float]:
        """(import, export) register of `meter` at `ms`."""
        return self.histories[meter].registers_at(ms)

    # Rows -------------------------------------------------------------------------------------

    def bucket(self, meter: str, start_ms: int) -> dict[str, object] | None:
        """The summary row of one quarter, or None when the service has no read in it."""
        history = self.histories[meter]
        times = self.reads(meter, start_ms, start_ms + QUARTER_MS)
        if not times:
            return None
        registers = [history.registers_at(t) for t in times]
        row: dict[str, object] = {
            "Meter": int(meter),
            "Protocol": "v4",
            "Start_Time_Stamp_UTC_ms": start_ms,
            "End_Time_Stamp_UTC_ms": start_ms + QUARTER_MS,
            "Start_Date": _date(start_ms),
            "End_Date": _date(start_ms + QUARTER_MS),
            "Count": len(times),
        }
        factor = 10**history.scale
        for name, column in zip(ENERGY_FIELDS, _energy_columns(registers), strict=True):
            deltas = [b - a for a, b in itertools.pairwise(column)] or [0.0]
            values = {
                "First": column[0],
                "Last": column[-1],
                "Min": min(column),
                "Max": max(column),
                "Diff": column[-1] - column[0],
                "DeltaMax": max(deltas),
            }
            for stat, value in values.items():
                row[f"{name}_{stat}"] = round(value * factor) / factor
        watts = [history.watts_at(t) for t in times]
        mean = sum(watts) / len(watts)
        power = {
            "Average": mean,
            "Min": min(watts),
            "Max": max(watts),
            "StdDev": math.sqrt(sum((w - mean) ** 2 for w in watts) / len(watts)),
        }
        for stat, value in power.items():
            row[f"{POWER_FIELD}_{stat}"] = round(value, 2)
        return row

    def rows(self, meters: Sequence[str], start_ms: int, end_ms: int) -> list[dict[str, object]]:
        """Every row with a start in [start, end), oldest first (meters interleaved)."""
        rows = []
        first = start_ms + -start_ms % QUARTER_MS
        for quarter in range(first, end_ms, QUARTER_MS):
            for meter in meters:
                row = self.bucket(meter, quarter)
                if row is not None:
                    rows.append(row)
        return rows

    # HTTP ---------------------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Serve `/summary` on `app`."""
        app.router.add_get("/summary", self.handle)

    def _fault_due(self) -> bool:
        if self.faults.times is None:
            return True
        if self.faults.times <= 0:
            return False
        self.faults.times -= 1
        return True

    async def handle(self, request: web.Request) -> web.Response:
        """One `report=15` request."""
        query = request.query
        asked = tuple(m.zfill(12) for m in query.get("meters", "").split("~") if m)
        faults = self.faults
        staged = faults.http_status or faults.api_code or faults.error_text
        if staged is not None and self._fault_due():
            return self._staged(asked)
        visible = self.visible(query.get("key", ""))
        if visible is None:
            return self._reply(401, asked, {"status_code": "401", "error": "Invalid key"})
        try:
            rows = self._answer(query, asked, visible)
        except SummaryRefusal as refusal:
            status = 200 if refusal.code < 1100 else 500 if refusal.code >= 1300 else 400
            body = {"status_code": refusal.code, "message": str(refusal)}
            return self._reply(status, asked, body)
        return self._reply(200, asked, rows)

    def _staged(self, asked: tuple[str, ...]) -> web.Response:
        faults = self.faults
        if faults.http_status is not None:
            headers = {}
            if faults.http_status == 429 and faults.retry_after is not None:
                headers["Retry-After"] = faults.retry_after
            self.served.append((faults.http_status, asked, 0))
            return web.Response(
                status=faults.http_status, text=f"HTTP {faults.http_status}", headers=headers
            )
        if faults.error_text is not None:
            self.served.append((200, asked, 0))
            return web.Response(status=200, text=faults.error_text, content_type="text/plain")
        code = faults.api_code or 1300
        status = 200 if code < 1100 else 500 if code >= 1300 else 400
        return self._reply(status, asked, {"status_code": code, "message": f"API {code}"})

    def _reply(self, status: int, asked: tuple[str, ...], document: object) -> web.Response:
        rows = len(document) if isinstance(document, list) else 0
        self.served.append((status, asked, rows))
        return web.Response(
            status=status, text=json.dumps(document), content_type="application/json"
        )

    def _answer(
        self, query: Mapping[str, str], asked: tuple[str, ...], visible: Sequence[str]
    ) -> list[dict[str, object]]:
        names = "~".join(str(int(m)) for m in asked)
        if query.get("report") != "15" or query.get("format", "json") != "json":
            raise SummaryRefusal(1102, "Invalid value")
        if not asked:
            raise SummaryRefusal(1103, "Invalid parameter")
        invalid = [m for m in asked if m not in visible]
        if invalid:
            key = query.get("key", "")
            raise SummaryRefusal(1200, f"Found invalid meter: {int(invalid[0])} for key: {key}")
        try:
            zone = ZoneInfo(query.get("timezone", "UTC").replace("~", "/"))
        except ZoneInfoNotFoundError, ValueError:
            raise SummaryRefusal(1004, "Timezone is not supported") from None
        start_ms = _parse_date(query.get("start_date", ""), zone)
        end_ms = _parse_date(query.get("end_date", ""), zone)
        limit_text, offset_text = query.get("limit", "1000"), query.get("offset", "0")
        if start_ms is None or end_ms is None or not limit_text.isdigit():
            raise SummaryRefusal(1103, "Invalid parameter")
        if not 1 <= int(limit_text) <= MAX_LIMIT or not offset_text.isdigit():
            raise SummaryRefusal(1102, "Invalid value")
        known = [m for m in asked if m in self.histories]
        if not known:
            raise SummaryRefusal(1000, f"There is not data for: {names}")
        first = min(self.histories[m].first_report_ms for m in known)
        if end_ms <= first:
            raise SummaryRefusal(
                1002, f"There is not data for: {names} This meter first reported on: {_date(first)}"
            )
        now = self.now_ms()
        if start_ms > now:
            raise SummaryRefusal(
                1003, f"There is not data for: {names} This meter last reported on: {_date(now)}"
            )
        rows = self.rows(known, start_ms, end_ms)
        if not rows:
            raise SummaryRefusal(
                1001,
                f"There is not data for: {names} between {_date(start_ms)} and {_date(end_ms)}",
            )
        if self.faults.newest_first:
            rows.reverse()
        offset = int(offset_text)
        rows = rows[offset : offset + int(limit_text)]
        if self.faults.values_as_strings:
            rows = [{k: str(v) for k, v in row.items()} for row in rows]
        return rows


def _energy_columns(registers: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """kWh_Tot (both directions, as EKM counts it) and Rev_kWh_Tot per read."""
    return [imp + exp for imp, exp in registers], [exp for _, exp in registers]


def _date(ms: int) -> str:
    return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%d %H:%M:%S}"


def _parse_date(text: str, zone: ZoneInfo) -> int | None:
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=zone)
    except ValueError:
        return None
    return int(local.timestamp() * 1000)


def attach_summary(
    cloud: PushSimulator,
    *,
    first_report: datetime | Mapping[str, datetime],
    clock: Callable[[], float] | None = None,
) -> SummaryService:
    """Serve `/summary` on the cloud's app for its meters, from `first_report` on.

    Each history starts at the registers the meter shows now (kWh_Tot counts both
    directions: import = kWh_Tot - Rev_kWh_Tot); the cloud's keys see what they see there.
    """
    histories = {}
    for index, (address, meter) in enumerate(cloud.meters.items()):
        start = first_report if isinstance(first_report, datetime) else first_report[address]
        values = meter_truth(meter)
        total, reverse = float(values["kWh_Tot"]), float(values["Rev_kWh_Tot"])
        histories[address] = RegisterHistory(
            first_report_ms=int(start.timestamp() * 1000),
            base_import_kwh=round(total - reverse, meter.kwh_scale),
            base_export_kwh=reverse,
            scale=meter.kwh_scale,
            phase=index * 0.7,
        )
    service = SummaryService(cloud.visible, histories, clock or cloud._clock)
    cloud.summary_handler = service.handle  # also once the cloud is serving
    return service
