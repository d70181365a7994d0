"""Async EKM Summary API client: quarter-hour buckets and hourly energy for many meters.

A backfill is tens of requests per meter-year against an account-wide rate limit that EKM
does not publish, so requests are paced (`min_interval` apart) and a 429 is waited out with a
growing back-off instead of retried at once; a wait longer than `max_wait` is raised as
MeterRateLimitError for the caller to reschedule. Answers that come back full may have lost
rows to the limit, so their request is split and asked again. The API's "first/last reported
on" answers clamp the range: windows before the first report are not asked at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import aiohttp

from ..budget import Clock, RequestBudget, Sleep
from ..energy_hours import Baseline, HourlyEnergy, hourly_energy
from ..errors import MeterRateLimitError
from ..http import rate_limit_error
from .client import named_devices
from .realtime import check_addresses, check_key, normalize_base_url
from .status import DEFAULT_RETRY_AFTER, PushInvalidMeterError
from .summary import (
    DEFAULT_SUMMARY_URL,
    DEFAULT_TIMEZONE,
    HOUR_MS,
    MAX_LIMIT,
    SummaryBucket,
    SummaryPage,
    SummaryQuery,
    by_meter,
    check_timezone,
    from_ms,
    in_range,
    interpret_summary,
    opening_registers,
    plan_queries,
    register_sample,
    split_query,
    summary_url,
    to_ms,
    window_span_ms,
)
from .transport import Answer, get

DEFAULT_TIMEOUT = 60.0
DEFAULT_MIN_INTERVAL = 1.0
"""Seconds between two requests: EKM publishes no limit; one a second is what clients use."""
DEFAULT_MAX_WAIT = 300.0
DEFAULT_LOOK_BACK_MS = 400 * 24 * HOUR_MS
"""How far before a range the last earlier reading is searched for (a meter offline a year)."""
REPORT_MARGIN_MS = 24 * HOUR_MS
""""First reported on" dates name no zone: a window is skipped only this far clear of one."""
_MAX_ATTEMPTS = 5

type Offload = Callable[[Callable[[], SummaryPage]], Awaitable[SummaryPage]]
"""Runs a page's parsing elsewhere (Home Assistant: its executor), off the event loop:
a 1000-row page costs tens of milliseconds of CPU."""


@dataclass(slots=True)
class SummaryResult:
    """Buckets per meter in time order, meters the key may not see, reported range edges."""

    buckets: dict[str, list[SummaryBucket]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    first_report_ms: dict[str, int] = field(default_factory=dict)
    last_report_ms: dict[str, int] = field(default_factory=dict)
    before: dict[str, SummaryBucket] = field(default_factory=dict)
    """Per meter the latest bucket before the range that a padded window brought along."""

    def data_start_ms(self, meters: Iterable[str]) -> int:
        """The hour where these meters' data can begin, when the API said so for all (else 0).

        A backfill of "everything" starts decades back: this lets it skip to the first report.
        """
        firsts = [self.first_report_ms.get(meter) for meter in meters]
        known = [first for first in firsts if first is not None]
        if not firsts or len(known) < len(firsts):
            return 0
        return (min(known) - REPORT_MARGIN_MS) // HOUR_MS * HOUR_MS


@dataclass(frozen=True, slots=True)
class MeterHistory:
    """One meter's hours in a range and the registers before it (None: none found)."""

    energy: HourlyEnergy
    baseline: Baseline | None


class SummaryClient:
    """The Summary API for one EKM Push key on the caller's aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        key: str,
        *,
        summary_url: str = DEFAULT_SUMMARY_URL,
        timezone: str = DEFAULT_TIMEZONE,
        request_timeout: float = DEFAULT_TIMEOUT,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        max_wait: float = DEFAULT_MAX_WAIT,
        limit: int = MAX_LIMIT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        offload: Offload | None = None,
    ) -> None:
        self._session = session
        self._key = check_key(key)
        self._url = normalize_base_url(summary_url)
        check_timezone(timezone)
        self._timezone = timezone
        self._timeout = request_timeout
        self._max_wait = max_wait
        self._limit = limit
        self._budget = RequestBudget("EKM Summary", interval=min_interval, clock=clock, sleep=sleep)
        self._offload = offload
        self._lock = asyncio.Lock()
        self.requests_sent = 0

    # Buckets ---------------------------------------------------------------------------------

    async def buckets(
        self, meters: Iterable[str], start: datetime, end: datetime, *, isolate: bool = True
    ) -> SummaryResult:
        """Every bucket starting in [start, end) of every meter, sorted and de-duplicated.

        With `isolate` a meter the key may not see (API 1200) is listed in `refused` while the
        others still load; without, that error is raised.
        """
        wanted = check_addresses(meters)
        result = SummaryResult()
        found: dict[tuple[str, int], SummaryBucket] = {}
        start_ms = to_ms(start)
        queue = plan_queries(wanted, start_ms, to_ms(end), limit=self._limit)
        while queue:
            query = self._clamped(queue.pop(0), result)
            if query is None:
                continue
            try:
                page = await self._page(query)
            except PushInvalidMeterError as err:
                if not isolate:
                    raise
                queue[:0] = self._narrowed(query, err, result)
                continue
            self._note_edges(query, page, result)
            if page.rows >= self._limit:
                parts = split_query(query)
                if parts:
                    queue[:0] = parts
                    continue
            for bucket in page.buckets:
                if bucket.meter not in query.meters:
                    continue
                if query.start_ms <= bucket.start_ms < query.end_ms:
                    found[(bucket.meter, bucket.start_ms)] = bucket
                elif bucket.start_ms < start_ms:
                    earlier = result.before.get(bucket.meter)
                    if earlier is None or earlier.start_ms < bucket.start_ms:
                        result.before[bucket.meter] = bucket
        result.buckets = by_meter(found[slot] for slot in sorted(found))
        return result

    @staticmethod
    def _narrowed(
        query: SummaryQuery, err: PushInvalidMeterError, result: SummaryResult
    ) -> list[SummaryQuery]:
        """The query without the meters an API 1200 names (or in halves when it names none)."""
        named = named_devices(str(err), query.meters)
        if not named and len(query.meters) == 1:
            named = query.meters
        for meter in named:
            result.refused[meter] = str(err)
        rest = tuple(m for m in query.meters if m not in named)
        if not rest:
            return []
        if named:
            return [SummaryQuery(rest, query.start_ms, query.end_ms)]
        return split_query(query)

    @staticmethod
    def _clamped(query: SummaryQuery, result: SummaryResult) -> SummaryQuery | None:
        """The query without the meters known to have no data in its window, or None."""
        keep = []
        for meter in query.meters:
            if meter in result.refused:
                continue
            first = result.first_report_ms.get(meter)
            last = result.last_report_ms.get(meter)
            if first is not None and query.ask_end_ms < first - REPORT_MARGIN_MS:
                continue
            if last is not None and query.ask_start_ms > last + REPORT_MARGIN_MS:
                continue
            keep.append(meter)
        if not keep:
            return None
        return SummaryQuery(tuple(keep), query.start_ms, query.end_ms)

    @staticmethod
    def _note_edges(query: SummaryQuery, page: SummaryPage, result: SummaryResult) -> None:
        for meter in query.meters:
            if page.first_report_ms is not None:
                result.first_report_ms[meter] = page.first_report_ms
            if page.last_report_ms is not None:
                result.last_report_ms[meter] = page.last_report_ms

    async def _page(self, query: SummaryQuery) -> SummaryPage:
        url = summary_url(self._url, self._key, query, limit=self._limit, timezone=self._timezone)
        answer = await self._get(url)
        parse = partial(
            interpret_summary,
            answer.status,
            answer.body,
            key=self._key,
            retry_after=answer.retry_after,
            now=time.time(),
        )
        return parse() if self._offload is None else await self._offload(parse)

    # Hours -----------------------------------------------------------------------------------

    async def history(
        self,
        meters: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        look_back_ms: int = DEFAULT_LOOK_BACK_MS,
        isolate: bool = True,
    ) -> tuple[dict[str, MeterHistory], SummaryResult]:
        """Hourly energy of every meter for the (whole) hours starting in [start, end).

        The first hour counts from the last reading before `start` (searched up to
        `look_back_ms` back), so the hours add up to the register's change; a meter whose first
        report lies in the range counts its first hour from that first read.
        """
        start_ms = to_ms(start) // HOUR_MS * HOUR_MS
        end_ms = -(-to_ms(end) // HOUR_MS) * HOUR_MS  # whole hours: an hour is one row
        result = await self.buckets(meters, from_ms(start_ms), from_ms(end_ms), isolate=isolate)
        histories: dict[str, MeterHistory] = {}
        for meter in check_addresses(meters):
            if meter in result.refused:
                continue
            own = result.buckets.get(meter, [])
            if meter in result.before:
                sample = register_sample(result.before[meter])
                baseline: Baseline | None = Baseline(sample.import_kwh, sample.export_kwh)
            else:
                baseline = await self.baseline_before(meter, start_ms, look_back_ms, result)
            opening = baseline or (opening_registers(own[0]) if own else None)
            energy = hourly_energy((register_sample(b) for b in own), baseline=opening)
            histories[meter] = MeterHistory(energy, baseline)
        return histories, result

    async def baseline_before(
        self,
        meter: str,
        before_ms: int,
        look_back_ms: int = DEFAULT_LOOK_BACK_MS,
        known: SummaryResult | None = None,
    ) -> Baseline | None:
        """The registers at the last reading before `before_ms`, or None when none is found."""
        span = window_span_ms(self._limit)
        end_ms = before_ms
        known = known or SummaryResult()
        while end_ms > before_ms - look_back_ms:
            first = known.first_report_ms.get(meter)
            if first is not None and end_ms < first - REPORT_MARGIN_MS:
                return None
            start_ms = max(end_ms - span, before_ms - look_back_ms)
            query = SummaryQuery((meter,), start_ms, end_ms)
            page = await self._page(query)
            self._note_edges(query, page, known)
            own = [b for b in in_range(page.buckets, start_ms, end_ms) if b.meter == meter]
            if own:
                sample = register_sample(own[-1])
                return Baseline(sample.import_kwh, sample.export_kwh)
            if page.first_report_ms is not None and page.first_report_ms >= start_ms:
                return None
            end_ms = start_ms
        return None

    # Requests --------------------------------------------------------------------------------

    async def _get(self, url: str) -> Answer:
        """One request, paced; a 429 waits the service's Retry-After (at least a back-off)."""
        async with self._lock:
            attempt = 0
            while True:
                await self._budget.wait_turn(self._max_wait)
                self._budget.sent()
                self.requests_sent += 1
                answer = await get(
                    self._session,
                    url,
                    request_timeout=self._timeout,
                    key=self._key,
                    what="EKM Summary",
                )
                if answer.status != 429:
                    return answer
                error = rate_limit_error(
                    answer.retry_after,
                    now=time.time(),
                    what="EKM Summary",
                    default=DEFAULT_RETRY_AFTER,
                )
                back_off = max(error.retry_after or 0.0, self._budget.interval * 2**attempt)
                attempt += 1
                if back_off > self._max_wait or attempt >= _MAX_ATTEMPTS:
                    raise MeterRateLimitError(str(error), retry_after=back_off)
                self._budget.back_off(back_off)
