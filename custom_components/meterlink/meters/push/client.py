"""Async EKM Push cloud client: realtime readings of many devices, and account discovery.

All of a key's devices are read in as few requests as the URL length allows (`~` batches).
Every request counts against the account's rate limit, so after a 429 the client remembers
when the service accepts the next one: it waits that long when the caller allows, and
otherwise refuses at once with the remaining time instead of provoking another 429.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Sequence

import aiohttp

from ..budget import Clock, RequestBudget, Sleep
from ..errors import MeterApiError, MeterFrameError
from ..http import rate_limit_error
from .account import DEFAULT_ACCOUNT_URL, account_url, interpret_account
from .models import PushInventory, PushReadings
from .realtime import (
    DEFAULT_API_URL,
    MAX_URL_LENGTH,
    batch_addresses,
    check_addresses,
    check_key,
    interpret_readmeter,
    normalize_base_url,
    readmeter_url,
)
from .status import DEFAULT_RETRY_AFTER, PushInvalidMeterError, PushNoDataError
from .transport import Answer, get

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_WAIT = 15.0
"""Longest a call waits for the rate limit by default before raising MeterRateLimitError."""


class PushClient:
    """One EKM Push key (account, gateway or meter key) on the caller's aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        account_url: str = DEFAULT_ACCOUNT_URL,
        request_timeout: float = DEFAULT_TIMEOUT,
        max_url_length: int = MAX_URL_LENGTH,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._key = check_key(key)
        self._api_url = normalize_base_url(api_url)
        self._account_url = normalize_base_url(account_url)
        self._timeout = request_timeout
        self._max_url_length = max_url_length
        self._max_wait = max_wait
        self._budget = RequestBudget("EKM Push", clock=clock, sleep=sleep)
        self._lock = asyncio.Lock()
        self.requests_sent = 0

    @property
    def api_url(self) -> str:
        """Base URL of the Realtime API."""
        return self._api_url

    def seconds_until_allowed(self) -> float:
        """How long the service asked us to wait before the next request (0: go ahead)."""
        return self._budget.seconds_until_allowed()

    def batches(self, addresses: Iterable[str], *, count: int = 1) -> list[tuple[str, ...]]:
        """The request batches `read(addresses)` would send."""
        return batch_addresses(
            self._api_url, self._key, addresses, count=count, max_length=self._max_url_length
        )

    async def discover(self) -> PushInventory:
        """The gateways, meters and ioStacks this key may see (one Account API request)."""
        answer = await self._get(account_url(self._account_url, self._key), "EKM Push account")
        return interpret_account(
            answer.status,
            answer.body,
            key=self._key,
            retry_after=answer.retry_after,
            now=time.time(),
        )

    async def read(
        self, addresses: Iterable[str] | None = None, *, count: int = 1, isolate: bool = True
    ) -> PushReadings:
        """The newest good read of every device in `addresses` (default: all the key sees).

        `count` reads per device are asked for (1..1000) and the newest good one kept, so a
        larger count rides over a few bad reads. Devices the API refuses ("no data yet",
        "invalid meter for this key") are listed in `missing` with the reason while the others
        still read (with `isolate=False` that API error is raised instead). Other failures
        raise (see `interpret_readmeter`).
        """
        if addresses is None:
            try:
                wanted: Sequence[str] = (await self.discover()).devices
            except (MeterFrameError, MeterApiError) as err:
                # The Account API's layout is not published: when its answer cannot be used,
                # readMeter without `meters` (all the key's devices, ekm.md §2.1) still works.
                if isinstance(err, MeterApiError) and err.code is not None:
                    raise
                return await self._read_batch((), count, isolate)
        else:
            wanted = check_addresses(addresses)
        result = PushReadings()
        for batch in self.batches(wanted, count=count):
            result = result.merged_with(await self._read_batch(batch, count, isolate))
        return result

    async def _read_batch(self, batch: tuple[str, ...], count: int, isolate: bool) -> PushReadings:
        """One readMeter request; an API refusal is narrowed to the devices it concerns.

        The API's messages name the devices ("There is not data for: {meters}", "Found invalid
        meter: {meter}"): those are set aside and the rest asked again. A refusal that names
        none of the batch is split in halves for "invalid meter" (one bad address must not
        hide the others) and taken for the whole batch for "no data" (splitting a new
        account's batch would cost a request per meter).
        """
        url = readmeter_url(self._api_url, self._key, batch, count=count)
        answer = await self._get(url, "EKM Push")
        try:
            return interpret_readmeter(
                answer.status,
                answer.body,
                key=self._key,
                retry_after=answer.retry_after,
                now=time.time(),
                requested=batch,
            )
        except (PushNoDataError, PushInvalidMeterError) as err:
            if not isolate:
                raise
            named = named_devices(str(err), batch)
            if named and len(named) < len(batch):
                rest = tuple(address for address in batch if address not in named)
                refused = PushReadings(missing=dict.fromkeys(named, str(err)))
                return refused.merged_with(await self._read_batch(rest, count, isolate))
            if len(batch) <= 1 or isinstance(err, PushNoDataError):
                return PushReadings(missing=dict.fromkeys(batch, str(err)))
        half = len(batch) // 2
        first = await self._read_batch(batch[:half], count, isolate)
        return first.merged_with(await self._read_batch(batch[half:], count, isolate))

    async def _get(self, url: str, what: str) -> Answer:
        """One request within the rate limit; a 429 is retried once when the wait is allowed."""
        async with self._lock:
            attempts = 0
            while True:
                await self._budget.wait_turn(self._max_wait)
                self.requests_sent += 1
                attempts += 1
                answer = await get(
                    self._session, url, request_timeout=self._timeout, key=self._key, what=what
                )
                if answer.status != 429:
                    return answer
                error = rate_limit_error(
                    answer.retry_after, now=time.time(), what=what, default=DEFAULT_RETRY_AFTER
                )
                wait = error.retry_after or 0.0
                self._budget.back_off(wait)
                if attempts >= 2 or wait > self._max_wait:
                    raise error


def named_devices(message: str, batch: Sequence[str]) -> tuple[str, ...]:
    """The devices of `batch` an API message names (9 or 12 digits, `~`-separated or not)."""
    mentioned = {
        address.zfill(12) for address in re.findall(r"(?<![0-9])[0-9]{1,12}(?![0-9])", message)
    }
    return tuple(address for address in batch if address in mentioned)
