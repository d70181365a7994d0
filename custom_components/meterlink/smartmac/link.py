"""One client per smart-MAC device for the whole of Home Assistant, shared by flows and entries.

The device counts every request against one budget (a minute on standard versions), so the config
flow's test read, the entry's first refresh right after it and a reload after an options change
must not each be a request of their own: a standard device would answer the second one with 429.
A link keeps the device's client (and with it the budget) and its newest reading; a reading that
is younger than the budget interval serves as the answer instead of a new request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.hass_dict import HassKey

from ..meters.errors import MeterError, MeterRateLimitError
from ..meters.http import normalize_host
from ..meters.smartmac import (
    RelayPolarity,
    SmartMacClient,
    SmartMacModel,
    SmartMacReading,
    check_device_id,
    check_pin,
)


@dataclass(frozen=True, slots=True)
class ClientTiming:
    """The clock the budget runs on and the per-request timeout.

    A module-level value so tests can run the budget on a fake clock shared with the simulator,
    the way the RS-485 tests shorten the bus timing.
    """

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    request_timeout: float = 10.0


TIMING = ClientTiming()

_LINKS: HassKey[dict[tuple[str, str, str], SmartMacLink]] = HassKey("meterlink_smartmac_links")


class SmartMacLink:
    """A device's client and its newest reading, with when it arrived on the budget's clock."""

    def __init__(self, client: SmartMacClient, clock: Callable[[], float]) -> None:
        self.client = client
        self._clock = clock
        self.reading: SmartMacReading | None = None
        self._read_at: float | None = None

    @property
    def age(self) -> float | None:
        """Seconds since the newest reading arrived (None before the first)."""
        return None if self._read_at is None else self._clock() - self._read_at

    def recent_reading(self) -> SmartMacReading | None:
        """The newest reading while a new request would still be refused by the budget.

        Forgotten as soon as a request fails for any reason but the budget: a refused PIN or an
        unreachable host must not be covered up by an older success.
        """
        age = self.age
        if age is None or age >= self.client.interval:
            return None
        return self.reading

    async def read(self, *, max_wait: float) -> SmartMacReading:
        """Read the device, waiting at most `max_wait` s for the budget."""
        return self._remember(await self._track(self.client.read(max_wait=max_wait)))

    async def set_relay(
        self, on: bool, polarity: RelayPolarity, *, max_wait: float
    ) -> SmartMacReading:
        """Switch the load relay; the answer is a complete reading and is kept as one."""
        return self._remember(
            await self._track(self.client.set_relay(on, polarity, max_wait=max_wait))
        )

    async def _track(self, request: Awaitable[SmartMacReading]) -> SmartMacReading:
        try:
            return await request
        except MeterRateLimitError:
            raise
        except MeterError:
            self.reading, self._read_at = None, None
            raise

    def _remember(self, reading: SmartMacReading) -> SmartMacReading:
        self.reading, self._read_at = reading, self._clock()
        return reading


def async_get_link(
    hass: HomeAssistant,
    host: str,
    device_id: str,
    pin: str,
    *,
    model_hint: SmartMacModel | None = None,
) -> SmartMacLink:
    """The link for this host, device ID and PIN (raises InvalidParameterError).

    Keyed by all three, so a flow testing a typo never replaces the link a loaded entry will
    reload with. A new client starts with a fresh budget; should the device still count another
    client's last request, its 429 carries the wait and the client backs off, so nothing is
    hammered.
    """
    key = (normalize_host(host), check_device_id(device_id), check_pin(pin))
    links = hass.data.setdefault(_LINKS, {})
    if (link := links.get(key)) is not None:
        return link
    # Links that hold nothing to share any more (no reading a new request would be refused
    # for, no budget left to wait out) are dropped: typos and old PINs or addresses do not pile
    # up. An entry still polling through a dropped link keeps it; it is just not shared.
    for old_key, old in list(links.items()):
        if old.recent_reading() is None and old.client.seconds_until_allowed() <= 0:
            del links[old_key]
    timing = TIMING
    client = SmartMacClient(
        async_get_clientsession(hass),
        *key,
        model_hint=model_hint,
        request_timeout=timing.request_timeout,
        clock=timing.clock,
        sleep=timing.sleep,
    )
    links[key] = link = SmartMacLink(client, timing.clock)
    return link
