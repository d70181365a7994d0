"""The request budget of a rate-limited far end: a minimum interval and a not-before time.

The EKM cloud answers 429 with a wait, and a smart-MAC refuses requests closer together than
its interval. A client holds one budget and asks it before every request, so a flow and an
entry sharing the client cannot together exceed the limit. Clock and sleep are injected, so
tests can move time without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from .errors import MeterRateLimitError

type Clock = Callable[[], float]
type Sleep = Callable[[float], Awaitable[None]]


class RequestBudget:
    """When the next request may go: `interval` after the last one and not before a back-off."""

    def __init__(
        self,
        who: str,
        *,
        interval: float = 0.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.who = who  # in "request not sent: <who> accepts the next one in …"
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last_request: float | None = None
        self._not_before = -float("inf")

    def seconds_until_allowed(self) -> float:
        """How long a request made now would wait (0 when it may go at once)."""
        earliest = self._not_before
        if self._last_request is not None:
            earliest = max(earliest, self._last_request + self.interval)
        return max(0.0, earliest - self._clock())

    def refuse_beyond(self, wait: float, limit: float) -> None:
        """MeterRateLimitError when `wait` is longer than the caller may wait."""
        if wait > limit:
            msg = f"request not sent: {self.who} accepts the next one in {wait:.1f} s"
            raise MeterRateLimitError(msg, retry_after=wait)

    async def wait_turn(self, limit: float, *, rounds: int = 1) -> None:
        """Sleep until the budget allows a request, or refuse when that is beyond `limit`.

        `rounds` bounds the sleeps, which guards against a sleep that does not move the clock.
        """
        wait = self.seconds_until_allowed()
        self.refuse_beyond(wait, limit)
        for _ in range(rounds):
            if wait <= 0:
                return
            await self._sleep(wait)
            wait = self.seconds_until_allowed()

    def sent(self) -> None:
        """Count a request as made now (every attempt: the far end may have seen it)."""
        self._last_request = self._clock()

    def back_off(self, seconds: float) -> None:
        """Send nothing for `seconds` from now (what a 429 asked for)."""
        self._not_before = self._clock() + seconds
