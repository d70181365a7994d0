"""The coordinator of one eGauge meter: one request per poll, exact import/export, quiet reboots.

Every poll is a single `/register` request for the rates and counters of every register and
the meter's 1 s history rows since the previous poll, conditioned on the counters' epoch. The
rows feed the import/export split of every power register (`meters.egauge.energy`), which is
stored, so a Home Assistant restart continues from the last row used instead of losing or
double-counting energy. A moved epoch or a zeroed database is a reset: totals restart as a new
cycle instead of a negative step. While a reboot MeterLink asked for keeps the meter away, polls
keep the last values (the entities say unavailable) without logging errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, override

from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from ..const import CONF_SCAN_INTERVAL, DOMAIN, LOGGER
from ..energy_guard import CounterGuard
from ..errors import ErrorTable, Rule, update_errors
from ..meters.egauge import (
    DeviceInfo,
    EgaugeClient,
    EpochMismatch,
    LocalReading,
    Reading,
    Register,
    Rights,
    UpdateOffer,
    available_update,
)
from ..meters.egauge.energy import NetEnergy, SplitState, rebase, split
from ..meters.errors import (
    MeterAuthError,
    MeterConnectionError,
    MeterError,
    MeterFrameError,
    MeterPermissionError,
)
from ..runtime import MeterLinkConfigEntry, MeterLinkRuntimeData, runtime_of
from .const import (
    CONF_FLIPPED,
    CONF_NET,
    CONF_REGISTER_DEVICES,
    CONF_REGISTERS,
    DEFAULT_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    REBOOT_GRACE,
    UPDATE_CHECK_INTERVAL,
)
from .history import EgaugeHistoryImporter

UPDATE_ERRORS: Final[ErrorTable] = (
    Rule(error=MeterAuthError, key="egauge_invalid_auth", raises=ConfigEntryAuthFailed),
    Rule(error=MeterPermissionError, key="egauge_permission", raises=UpdateFailed),
    Rule(error=MeterError, key="egauge_unavailable", raises=UpdateFailed),
)
STORE_VERSION: Final = 1
_SAVE_DELAY: Final = 30.0


@dataclass(frozen=True, slots=True)
class EgaugeOptions:
    """The entry's options with their defaults."""

    scan_interval: int = DEFAULT_SCAN_INTERVAL
    registers: frozenset[str] = frozenset()  # empty: every register
    net: frozenset[str] = frozenset()
    flipped: frozenset[str] = frozenset()
    register_devices: bool = False

    @classmethod
    def from_options(cls, options: dict[str, Any] | Any) -> EgaugeOptions:
        """Read stored options (missing ones take their defaults)."""
        interval = int(options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))
        return cls(
            max(interval, MIN_SCAN_INTERVAL),
            frozenset(options.get(CONF_REGISTERS, ())),
            frozenset(options.get(CONF_NET, ())),
            frozenset(options.get(CONF_FLIPPED, ())),
            bool(options.get(CONF_REGISTER_DEVICES, False)),
        )

    def wanted(self, name: str) -> bool:
        """Whether register `name` gets entities."""
        return not self.registers or name in self.registers

    def sign(self, name: str) -> int:
        """-1 for a register whose sign the user flipped."""
        return -1 if name in self.flipped else 1


@dataclass(frozen=True, slots=True)
class EgaugeData:
    """One poll's outcome: the reading, the split, one-way totals as published, /local."""

    reading: Reading
    split: SplitState
    totals: dict[str, float] = field(default_factory=dict)
    local: LocalReading | None = None
    last_reset: datetime | None = None


def power_registers(reading: Reading) -> list[Register]:
    """The registers whose energy is split into import and export."""
    return [value.register for value in reading.values.values() if value.register.type.code == "P"]


class EgaugeCoordinator(DataUpdateCoordinator[EgaugeData]):
    """Poll one meter; the data is the newest reading with its import/export split."""

    config_entry: MeterLinkConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        client: EgaugeClient,
    ) -> None:
        """Poll at the entry's interval (at least 5 s); who the meter is is read at setup."""
        self.client = client
        self.info = DeviceInfo(entry.data.get("serial", ""), entry.title, "", None)
        self.rights = Rights("", frozenset())
        self.firmware: str | None = None
        self.options = EgaugeOptions.from_options(entry.options)
        self.epoch: str | None = None
        self.split = SplitState()
        self.last_reset: datetime | None = None
        self.guard = CounterGuard(f"eGauge {entry.title}")
        self.offer: UpdateOffer | None = None
        self.rebooting = False
        self.local_wanted = 0  # enabled /local entities: /local is read only for them
        self.meter_device_id = ""  # the meter's device (registered at setup)
        self._offer_checked = -float("inf")
        self._quiet_until = -float("inf")
        self._store: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.egauge_{entry.entry_id}"
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"eGauge {entry.title}",
            update_interval=timedelta(seconds=self.options.scan_interval),
            always_update=False,
        )

    def error_placeholders(self) -> dict[str, str]:
        """Every message names the meter and where it is reached."""
        return {"meter": self.info.hostname, CONF_HOST: self.client.host}

    async def async_restore(self) -> None:
        """Continue the import/export split where the last run stopped."""
        stored = await self._store.async_load()
        if not stored:
            return
        try:
            totals = {
                name: NetEnergy(int(pair[0]), int(pair[1]))
                for name, pair in stored["totals"].items()
            }
            counters = {name: int(value) for name, value in stored["counters"].items()}
            ts = None if stored["ts"] is None else float(stored["ts"])
            self.split = SplitState(ts, counters, totals, int(stored.get("resets", 0)))
            self.epoch = stored.get("epoch")
        except KeyError, TypeError, ValueError, AttributeError, IndexError:
            LOGGER.warning("%s: stored import/export state unreadable; starting anew", self.name)

    def _stored(self) -> dict[str, Any]:
        state = self.split
        return {
            "ts": state.ts,
            "epoch": self.epoch,
            "counters": dict(state.counters),
            "totals": {name: [t.imported, t.exported] for name, t in state.totals.items()},
            "resets": state.resets,
        }

    def expect_outage(self) -> None:
        """A reboot was asked for: the meter's absence for a while is not an error."""
        self._quiet_until = time.monotonic() + REBOOT_GRACE

    @override
    @update_errors(UPDATE_ERRORS)
    async def _async_setup(self) -> None:
        """Who the meter is and what the user may do (a 503 here retries the setup later)."""
        self.info = await self.client.device_info()
        self.firmware = self.info.firmware
        self.rights = await self.client.rights()

    @override
    @update_errors(UPDATE_ERRORS)
    async def _async_update_data(self) -> EgaugeData:
        """Poll; during an announced reboot keep the last data without an error."""
        try:
            data = await self._poll()
        except MeterConnectionError:
            if time.monotonic() < self._quiet_until and self.data is not None:
                self.rebooting = True
                self.async_update_listeners()
                return self.data
            raise
        self.rebooting = False
        self._quiet_until = -float("inf")
        return data

    async def _poll(self) -> EgaugeData:
        if self.epoch is None:
            self.epoch = await self.client.epoch()
        answer = await self.client.poll(self.split.ts, epoch=self.epoch)
        if isinstance(answer, EpochMismatch):
            LOGGER.info("%s: the counters' epoch moved: a reset, not energy", self.name)
            self.epoch = answer.current
            self.split = rebase(self.split)
            self._reset()
            answer = await self.client.poll(self.split.ts, epoch=self.epoch)
            if isinstance(answer, EpochMismatch):
                msg = "the counters' epoch keeps moving"
                raise MeterFrameError(msg)
        reading, history = answer
        resets = self.split.resets
        self.split = split(self.split, history.rows, power_registers(reading))
        if self.split.resets > resets:
            self._reset()
        self._store.async_delay_save(self._stored, _SAVE_DELAY)
        local = await self.client.local() if self.local_wanted else None
        await self._check_update()
        return EgaugeData(
            reading, self.split, self._one_way_totals(reading), local, self.last_reset
        )

    def _reset(self) -> None:
        self.last_reset = dt_util.utcnow()
        self.guard = CounterGuard(self.guard.name)  # the next totals start a new cycle

    def _one_way_totals(self, reading: Reading) -> dict[str, float]:
        """Totals of registers that count one way: flipped as asked, never going back."""
        totals: dict[str, float] = {}
        for name, value in reading.values.items():
            total = value.total
            if total is not None and name not in self.options.net:
                totals[name] = total * self.options.sign(name)
        return self.guard.apply(totals, list(totals))

    async def _check_update(self) -> None:
        """Ask for the newest firmware now and then (only users with save may)."""
        if not self.rights.save or time.monotonic() - self._offer_checked < UPDATE_CHECK_INTERVAL:
            return
        self._offer_checked = time.monotonic()
        try:
            self.offer = await available_update(self.client)
        except MeterError as err:
            LOGGER.debug("%s: no firmware information: %s", self.name, err)

    async def async_shutdown(self) -> None:
        """Store the split before the entry goes."""
        await self._store.async_save(self._stored())
        await super().async_shutdown()


@dataclass(slots=True)
class EgaugeRuntimeData(MeterLinkRuntimeData):
    """What a loaded eGauge entry keeps: its coordinator and the meter's /local sensors."""

    coordinator: EgaugeCoordinator
    local_sensors: list[tuple[str, str | None]] = field(default_factory=list)
    history: EgaugeHistoryImporter | None = None

    def diagnostics(self) -> dict[str, Any]:
        """Registers, the split and the rights; never the password or the token."""
        coordinator = self.coordinator
        data = coordinator.data
        return {
            "last_update_success": coordinator.last_update_success,
            "meter": {
                "host": coordinator.client.host,
                "model": coordinator.info.model,
                "firmware": coordinator.firmware,
                "rights": sorted(coordinator.rights.rights),
                "epoch": coordinator.epoch,
                "requests": coordinator.client.requests,
                "logins": coordinator.client.logins,
            },
            "registers": None
            if data is None
            else {
                name: {
                    "type": value.register.type.code,
                    "virtual": value.register.virtual,
                    "rate": value.rate,
                    "counter": value.counter,
                }
                for name, value in data.reading.values.items()
            },
            "split": coordinator._stored(),
            "history": None if self.history is None else self.history.diagnostics(),
        }


def egauge_runtime(entry: MeterLinkConfigEntry) -> EgaugeRuntimeData:
    """The runtime data of a loaded eGauge entry."""
    return runtime_of(entry, EgaugeRuntimeData)
