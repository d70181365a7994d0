"""The coordinator of one smart-MAC device: polls within its request budget, switches its relay.

Every request, a relay command included, uses the device's budget (one a minute on standard
versions). Polls therefore never queue behind a relay command: when the budget says wait, the
poll keeps the reading it has and comes back when the device will accept it, for as long as that
reading is not stale. A reading older than `STALE_POLLS` poll intervals is never shown: the
entities become unavailable instead.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from typing import Any, Final, override

from homeassistant.const import CONF_DEVICE_ID, CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from ..const import DOMAIN, LOGGER
from ..energy_guard import CounterGuard
from ..errors import ErrorTable, Reauth, Rule, poll_errors, translate_errors, update_errors
from ..meters.errors import MeterAuthError, MeterCommandError, MeterError, MeterRateLimitError
from ..meters.smartmac import SmartMacReading
from ..runtime import MeterLinkConfigEntry, MeterLinkRuntimeData, runtime_of
from .descriptions import COUNTER_KEYS
from .link import SmartMacLink
from .options import SmartMacOptions

UPDATE_ERRORS: Final = poll_errors(
    refused="smartmac_invalid_pin", unavailable="smartmac_unavailable"
)
RELAY_ERRORS: Final[ErrorTable] = (
    Rule(
        error=MeterRateLimitError,
        key="smartmac_busy",
        with_error=False,
        details=lambda err: {"seconds": str(math.ceil(err.retry_after))} if err.retry_after else {},
    ),
    Rule(error=MeterAuthError, key="smartmac_invalid_pin", with_error=False, reauth=True),
    Rule(error=MeterCommandError, key="smartmac_relay_unconfirmed", with_error=False),
    Rule(error=MeterError, key="smartmac_command_failed"),
)

POLL_MAX_WAIT: Final = 3.0  # a poll waits this long for the budget at most, then backs off
COMMAND_MAX_WAIT: Final = 65.0  # a relay command queues up to one standard interval (+ slack)
STALE_POLLS: Final = 3  # a reading older than this many poll intervals is not shown


class SmartMacCoordinator(DataUpdateCoordinator[SmartMacReading]):
    """Poll one device; the data is its newest reading."""

    config_entry: MeterLinkConfigEntry

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry, link: SmartMacLink):
        """Set up polling at the entry's interval, never faster than the device allows."""
        self.link = link
        self.options = SmartMacOptions.from_entry(entry.data, entry.options)
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        self._backing_off = False
        self.counters = CounterGuard(f"smart-MAC {self.device_id}")
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"smart-MAC {self.device_id}",
            update_interval=self.poll_interval,
            always_update=False,
        )

    @property
    def poll_interval(self) -> timedelta:
        """The configured interval, or the device's budget interval when that is longer."""
        return timedelta(seconds=max(self.options.scan_interval, self.link.client.interval))

    @property
    def stale_after(self) -> float:
        """Seconds after which a reading is too old to show."""
        return STALE_POLLS * self.poll_interval.total_seconds()

    def error_placeholders(self) -> dict[str, str]:
        """Every message names the device and where it is reached."""
        return {CONF_DEVICE_ID: self.device_id, CONF_HOST: self.link.client.host}

    @override
    @update_errors(UPDATE_ERRORS)
    async def _async_update_data(self) -> SmartMacReading:
        """Read the device; a reading the flow or a reload just made is used as it is."""
        shown: SmartMacReading | None = self.data  # None until the first reading
        if shown is None and (recent := self.link.recent_reading()) is not None:
            return self._fresh(recent)
        try:
            reading = await self.link.read(max_wait=POLL_MAX_WAIT)
        except MeterRateLimitError as err:
            return self._rate_limited(err)
        return self._fresh(reading)

    def _fresh(self, reading: SmartMacReading) -> SmartMacReading:
        """A new reading arrived: back to the normal interval; counters never go backwards."""
        reading = dataclasses.replace(
            reading, values=self.counters.apply(reading.values, COUNTER_KEYS)
        )
        if self._backing_off:
            self._backing_off = False
            LOGGER.debug("%s: back to polling every %s", self.name, self.poll_interval)
        self.update_interval = self.poll_interval
        return reading

    def _rate_limited(self, err: MeterRateLimitError) -> SmartMacReading:
        """Keep the reading and come back when the device accepts a request, unless it is stale.

        The wait comes from the device (Retry-After of a 429) or from the client's own budget
        (a relay command is queued); either way the next poll is scheduled for then, never sooner.
        """
        wait = max(err.retry_after or self.link.client.interval, 1.0)
        age = self.link.age
        shown: SmartMacReading | None = self.data  # None until the first reading
        if shown is None or age is None or age + wait > self.stale_after:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="smartmac_rate_limited",
                translation_placeholders={
                    CONF_DEVICE_ID: self.device_id,
                    "seconds": str(math.ceil(wait)),
                },
                retry_after=wait,
            ) from err
        if not self._backing_off:
            self._backing_off = True
            LOGGER.debug("%s: request budget used up, next poll in %.0f s", self.name, wait)
        self.update_interval = timedelta(seconds=wait)
        return shown

    async def async_set_relay(self, on: bool) -> None:
        """Switch the load relay and publish what the device reports back.

        The command waits for the budget up to `COMMAND_MAX_WAIT` (a standard device polled every
        minute has a request slot within that); its answer is a full reading, so it replaces the
        next poll.
        """
        placeholders = {
            CONF_DEVICE_ID: self.device_id,
            "seconds": str(math.ceil(self.link.client.interval)),  # unless the device says
        }
        with translate_errors(
            RELAY_ERRORS,
            placeholders,
            reauth=Reauth(lambda data: self.config_entry.async_start_reauth(self.hass, data=data)),
        ):
            reading = await self.link.set_relay(
                on, self.options.relay_polarity, max_wait=COMMAND_MAX_WAIT
            )
        self.async_set_updated_data(self._fresh(reading))


@dataclasses.dataclass(slots=True)
class SmartMacRuntimeData(MeterLinkRuntimeData):
    """What a loaded smart-MAC entry keeps: the device's link and its coordinator."""

    link: SmartMacLink
    coordinator: SmartMacCoordinator

    def diagnostics(self) -> dict[str, Any]:
        """The newest reading as the device sent it, and where the request budget stands."""
        coordinator = self.coordinator
        client = self.link.client
        reading = coordinator.data
        return {
            "last_update_success": coordinator.last_update_success,
            "device": {
                "host": client.host,
                "interval": client.interval,
                "seconds_until_allowed": client.seconds_until_allowed(),
                "poll_interval": coordinator.poll_interval.total_seconds(),
                "reading_age": self.link.age,
                "held_counters": sorted(coordinator.counters.held),
            },
            "reading": None
            if reading is None
            else {
                "model": reading.model.value,
                "extended": reading.extended,
                "values": dict(reading.values),
                "units": dict(reading.units),
                "extra": dict(reading.extra),
                "attributes": dict(reading.attributes),
            },
        }


def smartmac_runtime(entry: MeterLinkConfigEntry) -> SmartMacRuntimeData:
    """The runtime data of a loaded smart-MAC entry."""
    return runtime_of(entry, SmartMacRuntimeData)
