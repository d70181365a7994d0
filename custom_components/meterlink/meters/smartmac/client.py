"""Async smart-MAC client over an injected aiohttp session, within the device's request budget.

The device counts every getdata request, relay commands included, and answers 429 when they
come faster than once a minute (standard) or every 6 s (extended). A client that polls and
switches the relay from several places would trip that, so all requests of one client go
through one lock and one budget: a call waits for its turn, or says when to retry when the wait
would be longer than the caller accepts.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from ..budget import Clock, RequestBudget, Sleep
from ..errors import (
    MeterCommandError,
    MeterError,
    MeterFrameError,
    MeterRateLimitError,
    MeterServerError,
    MeterTimeoutError,
)
from ..http import normalize_host, request
from .models import (
    STANDARD_INTERVAL,
    RelayPolarity,
    SmartMacModel,
    SmartMacReading,
    pout_for,
    relay_on,
    request_interval,
)
from .protocol import (
    build_url,
    check_device_id,
    check_pin,
    interpret_response,
)

DEFAULT_MAX_WAIT = STANDARD_INTERVAL + 5.0
"""Longest a call waits for its turn by default: one standard interval plus some slack."""

MAX_BODY = 256 * 1024
"""A getdata answer is a few kB; anything far larger is not a smart-MAC."""

_MAX_REDIRECTS = 3  # a login redirect is followed so the login page can be recognised
_MAX_SLEEP_ROUNDS = 3  # guards against a sleep function that does not move the clock


class SmartMacClient:
    """One smart-MAC device reached over HTTP.

    The session is the caller's (Home Assistant's shared one, or a test's); the client never
    closes it. The budget assumes a standard device until a reading shows it is extended,
    because guessing 6 s on a standard device earns a 429 on every second request.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        device_id: str,
        pin: str,
        *,
        model_hint: SmartMacModel | None = None,
        request_timeout: float = 10.0,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._host = normalize_host(host)
        self._device_id = check_device_id(device_id)
        self._pin = check_pin(pin)
        self._model_hint = model_hint
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._max_wait = max_wait
        self._budget = RequestBudget(
            "the device", interval=STANDARD_INTERVAL, clock=clock, sleep=sleep
        )
        self._lock = asyncio.Lock()
        self._extended = False
        self._last_reading: SmartMacReading | None = None
        self._holder_waiting = False

    @property
    def host(self) -> str:
        """The `host[:port]` requests go to."""
        return self._host

    @property
    def device_id(self) -> str:
        """The device ID every request names and every answer must carry."""
        return self._device_id

    @property
    def interval(self) -> float:
        """Minimum seconds between requests, as far as the device is known so far."""
        return request_interval(self._extended)

    @property
    def last_reading(self) -> SmartMacReading | None:
        """The newest reading this client received."""
        return self._last_reading

    def seconds_until_allowed(self) -> float:
        """How long a request made now would wait for the budget (0 when it may go at once)."""
        return self._budget.seconds_until_allowed()

    async def read(self, *, max_wait: float | None = None) -> SmartMacReading:
        """Read all values; waits up to `max_wait` s (default: the client's) for the budget."""
        return await self._request(None, max_wait)

    async def set_relay(
        self, on: bool, polarity: RelayPolarity, *, max_wait: float | None = None
    ) -> SmartMacReading:
        """Switch the load relay with getdata&pout= and return the reading that confirms it.

        `polarity` is required because the vendor doc and field reports disagree on what `pout`
        means. The documented call can answer with an error although the relay switched (the
        public client's issue #27), so an answer that is no reading (an HTTP error, a
        timeout, an unreadable body) is checked against the next reading: only a reading that
        shows the old state, or none at all, makes it a MeterCommandError. A refusal before
        anything switched (PIN, 429, no connection, bad input) is raised as it is.
        """
        try:
            return await self._request(pout_for(on, polarity), max_wait)
        except (MeterFrameError, MeterServerError, MeterTimeoutError) as err:
            # The device got the command (it answered, or went quiet after it): it may have
            # switched. Anything else (refused PIN, 429, no connection) switched nothing.
            failure = " ".join(str(err).split())
        try:
            reading = await self._request(None, max_wait)
        except MeterError as err:
            msg = f"relay command unconfirmed: {failure}; the reading after it failed: {err}"
            raise MeterCommandError(msg) from None
        if relay_on(reading, polarity) is on:
            return reading
        msg = f"relay command failed: {failure}; the next reading shows the relay unchanged"
        raise MeterCommandError(msg)

    async def _request(self, pout: str | None, max_wait: float | None) -> SmartMacReading:
        limit = self._max_wait if max_wait is None else max_wait
        # Checked before queueing too, so a relay command does not sit behind a poll that is
        # itself waiting a minute, only to be refused afterwards.
        self._budget.refuse_beyond(self._projected_wait(), limit)
        async with self._lock:
            self._holder_waiting = True
            try:
                await self._budget.wait_turn(limit, rounds=_MAX_SLEEP_ROUNDS)
            finally:
                self._holder_waiting = False
            self._budget.sent()
            try:
                reading = await self._fetch(pout)
            except MeterRateLimitError as err:
                backoff = self.interval if err.retry_after is None else err.retry_after
                self._budget.back_off(backoff)
                raise
            self._extended = reading.extended
            self._budget.interval = self.interval
            self._last_reading = reading
            return reading

    def _projected_wait(self) -> float:
        """The budget wait of a call made now, counting a queued request that goes first."""
        wait = self.seconds_until_allowed()
        if self._lock.locked() and self._holder_waiting:
            wait += self.interval  # the holder's request is not counted yet
        return wait

    async def _fetch(self, pout: str | None) -> SmartMacReading:
        url = build_url(self._host, self._device_id, self._pin, pout)
        answer = await request(
            self._session,
            "GET",
            url,
            what=self._host,
            secrets=(self._pin,),
            client_timeout=self._timeout,
            max_body=MAX_BODY,
            max_redirects=_MAX_REDIRECTS,
        )
        status, body, retry_after = answer.status, answer.body, answer.retry_after
        return interpret_response(
            status,
            body,
            retry_after=retry_after,
            fallback_retry_after=self.interval,
            now=time.time(),
            expected_devid=self._device_id,
            model_hint=self._model_hint,
            pin=self._pin,
        )
