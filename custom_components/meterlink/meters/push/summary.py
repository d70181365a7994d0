"""Sans-IO EKM Summary API: quarter-hour request plans and answers as buckets or typed errors.

`GET {summary}/summary?meters=A~B&key=K&report=15&format=json&fields=kWh_Tot*~Rev_kWh_Tot*
&limit=1000&timezone=UTC&start_date=YYYYMMDDhhmm&end_date=YYYYMMDDhhmm` answers a JSON array
of period objects, one per (meter, 15-minute bucket): `Meter`, `Start_Time_Stamp_UTC_ms`,
`End_Time_Stamp_UTC_ms`, `Count` and per field `<field>_<stat>` (reference
mqtt-summary-statistics.md B1; no literal answer is public, so parsing is generic and
forgiving: one bad value costs that value, a row without meter or start is skipped).

Every request counts against the account's rate limit and returns at most `MAX_LIMIT` rows,
so a range is cut into as few requests as fit that limit: many meters in one request while
the range is short, one meter per request in windows of ~10 days when it is long. The dates
are read in the `timezone` given and their inclusivity is not documented, so every window is
padded by `PAD_MS` and rows are filtered on their UTC start. Rows arrive in any order
(ceuph pages newest-first), so they are sorted and de-duplicated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..energy_hours import DIGITS, Baseline, RegisterSample
from ..errors import InvalidParameterError, MeterFrameError
from ..json import number
from .fields import device_address
from .realtime import check_key, normalize_base_url
from .status import PushNoDataError, PushQueryError, cloud_document, redact

DEFAULT_SUMMARY_URL = "https://summary.ekmpush.com"
QUARTER_MS = 900_000
HOUR_MS = 3_600_000
MAX_LIMIT = 1000
"""Most rows one request returns (the largest `limit` any client uses)."""
PAD_MS = HOUR_MS
"""Each window is asked this much wider on both sides; rows outside are dropped."""
MAX_URL_LENGTH = 2000
DEFAULT_TIMEZONE = "UTC"
ENERGY_FIELD = "kWh_Tot"
REVERSE_FIELD = "Rev_kWh_Tot"
ENERGY_FIELDS = (f"{ENERGY_FIELD}*", f"{REVERSE_FIELD}*")
STATS = ("DeltaMax", "Average", "StdDev", "First", "Last", "Diff", "Min", "Max")
"""Statistic suffixes, longest first where one ends another (`DeltaMax` before `Max`)."""
# Codes that mean "nothing in this window" rather than a refusal.
NO_DATA_CODES = frozenset({1000, 1001})
FIRST_REPORTED = 1002
LAST_REPORTED = 1003
TIMEZONE_REFUSED = 1004
_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(\d{13})(?!\d)"),  # epoch milliseconds
    re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)"),  # YYYYMMDDhhmm
    re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"),
)


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    """One request: which meters, the window asked (`ask_*`) and the bucket starts kept."""

    meters: tuple[str, ...]
    start_ms: int
    end_ms: int

    @property
    def ask_start_ms(self) -> int:
        """Start of the window sent (padded)."""
        return self.start_ms - PAD_MS

    @property
    def ask_end_ms(self) -> int:
        """End of the window sent (padded)."""
        return self.end_ms + PAD_MS

    def rows_expected(self) -> int:
        """Rows a full answer has: one per meter and quarter of the padded window."""
        return len(self.meters) * -(-(self.ask_end_ms - self.ask_start_ms) // QUARTER_MS)


@dataclass(frozen=True, slots=True)
class SummaryBucket:
    """One meter's 15-minute summary: `stats[field][stat]`, e.g. stats["kWh_Tot"]["Max"]."""

    meter: str
    start_ms: int
    end_ms: int
    count: int | None
    stats: Mapping[str, Mapping[str, float]]

    def end_value(self, name: str) -> float | None:
        """The register at the bucket's last read: Last, else Max (monotonic), else Min+Diff."""
        values = self.stats.get(name, {})
        for stat in ("Last", "Max"):
            if stat in values:
                return values[stat]
        for base in ("Min", "First"):
            if base in values and "Diff" in values:
                return values[base] + values["Diff"]
        return None

    def start_value(self, name: str) -> float | None:
        """The register at the bucket's first read: First, else Min, else Last/Max - Diff."""
        values = self.stats.get(name, {})
        for stat in ("First", "Min"):
            if stat in values:
                return values[stat]
        for top in ("Last", "Max"):
            if top in values and "Diff" in values:
                return values[top] - values["Diff"]
        return None


@dataclass(frozen=True, slots=True)
class SummaryPage:
    """One answer: its buckets (sorted, unique), raw row count and any reported range edge."""

    buckets: tuple[SummaryBucket, ...] = ()
    rows: int = 0
    first_report_ms: int | None = None
    last_report_ms: int | None = None
    no_data: bool = False


def to_ms(when: datetime) -> int:
    """An aware datetime as epoch milliseconds."""
    if when.tzinfo is None:
        msg = "times must carry a time zone"
        raise InvalidParameterError(msg)
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def meter_number(address: str) -> str:
    """The meter as the Summary API's examples write it: the number without leading zeros."""
    return str(int(address))


def check_timezone(name: str) -> ZoneInfo:
    """The zone `start_date`/`end_date` are written in (API spelling `Area~City`)."""
    try:
        return ZoneInfo(name.replace("~", "/"))
    except ZoneInfoNotFoundError, ValueError:
        msg = f"{name!r} is not a time zone name"
        raise InvalidParameterError(msg) from None


def summary_url(
    base_url: str,
    key: str,
    query: SummaryQuery,
    *,
    fields: Sequence[str] = ENERGY_FIELDS,
    limit: int = MAX_LIMIT,
    timezone: str = DEFAULT_TIMEZONE,
) -> str:
    """The `report=15` request for `query` (padded window). It contains the key: never log it."""
    if not 1 <= limit <= MAX_LIMIT:
        msg = f"limit is 1 to {MAX_LIMIT} rows"
        raise InvalidParameterError(msg)
    if not query.meters:
        msg = "a summary request names at least one meter"
        raise InvalidParameterError(msg)
    zone = check_timezone(timezone)

    def date(ms: int) -> str:
        return f"{from_ms(ms).astimezone(zone):%Y%m%d%H%M}"

    meters = "~".join(meter_number(m) for m in query.meters)
    return (
        f"{normalize_base_url(base_url)}/summary?meters={meters}"
        f"&key={quote(check_key(key), safe='')}&report=15&format=json"
        f"&fields={'~'.join(fields)}&limit={limit}&timezone={timezone.replace('/', '~')}"
        f"&start_date={date(query.ask_start_ms)}&end_date={date(query.ask_end_ms)}"
    )


def plan_queries(
    meters: Sequence[str],
    start_ms: int,
    end_ms: int,
    *,
    limit: int = MAX_LIMIT,
    max_meters: int | None = None,
) -> list[SummaryQuery]:
    """The fewest requests whose answers fit `limit` rows and cover [start, end) for all meters.

    A short range (an hourly update) goes out as one request per `max_meters` meters; a range
    longer than one request holds for a single meter goes out per meter in windows.
    """
    if end_ms <= start_ms or not meters:
        return []
    start_ms -= start_ms % QUARTER_MS
    # A page with `limit` rows may have been cut: plans stay one row below it.
    quarters = -(-(end_ms - start_ms + 2 * PAD_MS) // QUARTER_MS)
    fit = (limit - 1) // quarters
    if fit >= 1:
        per_request = min(fit, max_meters or len(meters))
        return [
            SummaryQuery(tuple(meters[i : i + per_request]), start_ms, end_ms)
            for i in range(0, len(meters), per_request)
        ]
    span = window_span_ms(limit)
    return [
        SummaryQuery((meter,), window, min(window + span, end_ms))
        for meter in meters
        for window in range(start_ms, end_ms, span)
    ]


def window_span_ms(limit: int = MAX_LIMIT) -> int:
    """The longest window of one meter whose padded answer stays below `limit` rows."""
    span = (limit - 1 - 2 * PAD_MS // QUARTER_MS) * QUARTER_MS
    if span <= 0:
        msg = f"a limit of {limit} rows cannot hold one padded quarter"
        raise InvalidParameterError(msg)
    return span


def split_query(query: SummaryQuery) -> list[SummaryQuery]:
    """Two smaller requests for one whose answer came back full (rows may be missing)."""
    if len(query.meters) > 1:
        half = len(query.meters) // 2
        return [
            SummaryQuery(query.meters[:half], query.start_ms, query.end_ms),
            SummaryQuery(query.meters[half:], query.start_ms, query.end_ms),
        ]
    middle = (query.start_ms + query.end_ms) // 2
    middle -= middle % QUARTER_MS
    if middle <= query.start_ms:
        return []
    return [
        SummaryQuery(query.meters, query.start_ms, middle),
        SummaryQuery(query.meters, middle, query.end_ms),
    ]


def interpret_summary(
    status: int,
    body: bytes | str,
    *,
    key: str | None = None,
    retry_after: str | None = None,
    now: float | None = None,
) -> SummaryPage:
    """Classify one answer: a page of buckets, or the typed error it amounts to.

    1000/1001 (no data in the window) are an empty page; 1002/1003 an empty page that carries
    the first/last report time when the message has one. 1004 (time zone refused) and an
    HTTP 200 text body starting "Error" (how the service answers bad arguments) are
    PushQueryError; the rest as `status.cloud_document` classifies it.
    """
    try:
        document = cloud_document(status, body, key=key, retry_after=retry_after, now=now)
    except PushNoDataError as err:
        return _no_data_page(err, body, key)
    except MeterFrameError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if text.lstrip()[:5].lower() == "error":
            msg = f"EKM Summary refused the query: {redact(text, key)}"
            raise PushQueryError(msg, code=1100, status=status) from None
        raise
    rows = _rows(document)
    return SummaryPage(buckets=tuple(parse_rows(rows)), rows=len(rows))


def _no_data_page(err: PushNoDataError, body: bytes | str, key: str | None) -> SummaryPage:
    if err.code == TIMEZONE_REFUSED:
        raise PushQueryError(str(err), code=err.code, status=err.status) from None
    if err.code is not None and err.code not in NO_DATA_CODES | {FIRST_REPORTED, LAST_REPORTED}:
        raise err
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    lowered = text.lower()
    first = last = None
    if err.code == FIRST_REPORTED or "first reported" in lowered:
        first = reported_time(text[lowered.find("first reported") :])
    if err.code == LAST_REPORTED or "last reported" in lowered:
        last = reported_time(text[lowered.find("last reported") :])
    return SummaryPage(first_report_ms=first, last_report_ms=last, no_data=True)


def reported_time(text: str) -> int | None:
    """The first date in `text` as epoch ms (UTC when it names no zone), or None."""
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text[:300])
        if match is None:
            continue
        parts = [int(p) if p else 0 for p in match.groups()]
        try:
            if len(parts) == 1:
                return parts[0]
            if pattern is _DATE_PATTERNS[3]:
                month, day, year, hour, minute, second = parts
            else:
                year, month, day, hour, minute, *rest = parts
                second = rest[0] if rest else 0
            when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            continue
        return to_ms(when)
    return None


def _rows(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        for name, value in document.items():
            if str(name).lower() in {"summary", "data", "rows", "results"} and isinstance(
                value, list
            ):
                return value
    msg = "the answer is not a Summary API answer (no list of periods)"
    raise MeterFrameError(msg)


def parse_rows(rows: Iterable[Any]) -> list[SummaryBucket]:
    """Period objects as buckets sorted by (meter, start), one per (meter, start).

    Of two rows for the same bucket the one with more reads (then more values) is kept: a
    re-summarised bucket after a late upload has more. Rows without a meter or a start are
    dropped, values that are not numbers are skipped.
    """
    kept: dict[tuple[str, int], SummaryBucket] = {}
    for row in rows:
        bucket = parse_row(row)
        if bucket is None:
            continue
        slot = (bucket.meter, bucket.start_ms)
        if slot not in kept or _weight(bucket) > _weight(kept[slot]):
            kept[slot] = bucket
    return [kept[slot] for slot in sorted(kept)]


def _weight(bucket: SummaryBucket) -> tuple[int, int, tuple[tuple[str, str, float], ...]]:
    flat = tuple(
        sorted((name, stat, value) for name, s in bucket.stats.items() for stat, value in s.items())
    )
    return (bucket.count or 0, len(flat), flat)


def parse_row(row: object) -> SummaryBucket | None:
    """One period object, or None when it does not say whose and when it is."""
    if not isinstance(row, Mapping):
        return None
    meter = device_address(row.get("Meter", row.get("Device")))
    start = number(row.get("Start_Time_Stamp_UTC_ms"))
    if meter is None or not isinstance(start, int) or not 0 <= start < 10**15:
        return None
    end = number(row.get("End_Time_Stamp_UTC_ms"))
    if not isinstance(end, int) or end <= start:
        end = start + QUARTER_MS
    count = number(row.get("Count"))
    stats: dict[str, dict[str, float]] = {}
    for name, raw in row.items():
        split = split_stat(name) if isinstance(name, str) else None
        if split is None or (value := number(raw)) is None:
            continue
        stats.setdefault(split[0], {})[split[1]] = float(value)
    return SummaryBucket(meter, start, end, count if isinstance(count, int) else None, stats)


@lru_cache(maxsize=1024)  # every row repeats the same few names
def split_stat(name: str) -> tuple[str, str] | None:
    """`kWh_Tot_DeltaMax` -> (`kWh_Tot`, `DeltaMax`); None for a name without a statistic."""
    for stat in STATS:
        if name.endswith(f"_{stat}") and len(name) > len(stat) + 1:
            return name[: -len(stat) - 1], stat
    return None


def in_range(buckets: Iterable[SummaryBucket], start_ms: int, end_ms: int) -> list[SummaryBucket]:
    """Buckets starting in [start, end) (drops what the padding brought in)."""
    return [b for b in buckets if start_ms <= b.start_ms < end_ms]


def register_sample(bucket: SummaryBucket) -> RegisterSample:
    """A bucket's end registers: import = kWh_Tot - Rev_kWh_Tot, export = Rev_kWh_Tot.

    kWh_Tot counts both directions (ekm.md §1.5); a bucket lacking Rev_kWh_Tot has no export
    and no import value (kWh_Tot alone cannot tell them apart).
    """
    total, reverse = bucket.end_value(ENERGY_FIELD), bucket.end_value(REVERSE_FIELD)
    return RegisterSample(bucket.end_ms, *_split(total, reverse))


def opening_registers(bucket: SummaryBucket) -> Baseline:
    """The registers at a bucket's first read: the baseline of a meter's very first hour."""
    return Baseline(*_split(bucket.start_value(ENERGY_FIELD), bucket.start_value(REVERSE_FIELD)))


def _split(total: float | None, reverse: float | None) -> tuple[float | None, float | None]:
    if reverse is None:
        return None, None
    return (None if total is None else round(total - reverse, DIGITS)), reverse


def by_meter(buckets: Iterable[SummaryBucket]) -> dict[str, list[SummaryBucket]]:
    """Buckets grouped per meter, each list in time order."""
    grouped: dict[str, list[SummaryBucket]] = {}
    for bucket in sorted(buckets, key=lambda b: (b.meter, b.start_ms)):
        grouped.setdefault(bucket.meter, []).append(bucket)
    return grouped
