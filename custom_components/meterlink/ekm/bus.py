"""The coordinator of one EKM RS-485 bus: polls every meter in turn and carries out writes.

One coordinator per config entry (per bus), because RS-485 is half duplex: every meter on the
wire shares one port, and polling them from separate coordinators would only make them queue
on the bus lock in an unpredictable order. A meter that does not answer makes only its own
entities unavailable; the bus as a whole fails only when no meter answers at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Final, override

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from ..const import CONF_MODEL, CONF_PASSWORD, CONF_SCAN_INTERVAL, DOMAIN, LOGGER
from ..energy_guard import EnergyGuard
from ..errors import ErrorTable, Reauth, Rule, translate_errors
from ..meters.ekm import Command, EkmBus, EkmReading, MeterVersion
from ..meters.errors import (
    InvalidParameterError,
    MeterAuthError,
    MeterCommandError,
    MeterError,
    MeterUnsupportedError,
)
from ..runtime import MeterLinkConfigEntry, MeterLinkRuntimeData, runtime_of
from .const import (
    CONF_ADDRESS,
    CONF_PORT,
    CONF_SETTINGS_INTERVAL,
    CONF_VERSION,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SETTINGS_INTERVAL,
    SUBENTRY_METER,
)
from .coordinator import EkmCoordinator, device_identity, meter_name, meter_subentry_title

# A write: a refused password asks the user for the meter's new one.
COMMAND_ERRORS: Final[ErrorTable] = (
    Rule(error=MeterAuthError, key="invalid_password", with_error=False, reauth=True),
    Rule(error=MeterUnsupportedError, key="invalid_command", raises=ServiceValidationError),
    Rule(error=InvalidParameterError, key="invalid_command", raises=ServiceValidationError),
    Rule(error=MeterCommandError, key="command_failed", with_error=False),
    Rule(error=MeterError, key="communication_error"),
)
READ_ERRORS: Final[ErrorTable] = (Rule(error=MeterError, key="communication_error"),)
ZERO_RESETTABLE_CODE: Final = "D3"  # zeroes the resettable registers


def create_bus(url: str) -> EkmBus:
    """Build the bus client for a port URL.

    A module-level factory so tests can substitute fast timing: a silent meter costs the
    bus's turnaround, which is a second with real hardware.
    """
    return EkmBus(url)


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """One meter as configured in its subentry."""

    subentry_id: str
    title: str
    address: str
    version: MeterVersion
    model: str | None
    password: str | None


@dataclass(slots=True)
class _MeterState:
    """What the coordinator remembers about one meter between polls."""

    guard: EnergyGuard  # lifetime registers never go backwards
    settings: EkmReading | None = None  # last reading that carried the B block (v4)
    settings_read_at: datetime | None = None
    force_settings: bool = False  # a settings write happened: read B on the next poll
    available: bool = True  # for logging the change once
    device_info: tuple[str | None, str | None] = (None, None)  # (model, firmware) synced


@dataclass(slots=True)
class EkmBusRuntimeData(MeterLinkRuntimeData):
    """What a loaded bus entry keeps: the open bus and its coordinator."""

    bus: EkmBus
    coordinator: EkmBusCoordinator

    async def async_close(self) -> None:
        """Free the port, for the next setup and for the config flow's checks."""
        await self.bus.close()

    def diagnostics(self) -> dict[str, Any]:
        """Readings, per-meter state and wire health of the bus."""
        coordinator = self.coordinator
        return {
            "last_update_success": coordinator.last_update_success,
            "meters": coordinator.diagnostics(),
            "readings": readings_as_dict(coordinator.data),
            "bus": {"url": self.bus.url, "stats": asdict(self.bus.stats)},
        }


def ekm_bus_runtime(entry: MeterLinkConfigEntry) -> EkmBusRuntimeData:
    """The runtime data of a loaded bus entry."""
    return runtime_of(entry, EkmBusRuntimeData)


def meters_of(entry: ConfigEntry) -> dict[str, MeterConfig]:
    """The meters configured on a bus, by address, read fresh from the subentries.

    Read on every use rather than cached, so a meter added, removed or re-authenticated while
    the entry is loaded takes effect without a reload.
    """
    meters: dict[str, MeterConfig] = {}
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_METER:
            continue
        data = subentry.data
        meters[data[CONF_ADDRESS]] = MeterConfig(
            subentry_id=subentry.subentry_id,
            title=meter_name(data.get(CONF_MODEL), data[CONF_ADDRESS])
            if subentry.title == meter_subentry_title(data[CONF_ADDRESS])
            else subentry.title,  # a title given before issue 13 #11, or by the user
            address=data[CONF_ADDRESS],
            version=MeterVersion(data[CONF_VERSION]),
            model=data.get(CONF_MODEL),
            password=data.get(CONF_PASSWORD) or None,
        )
    return meters


class EkmBusCoordinator(EkmCoordinator[dict[str, EkmReading]]):
    """Poll the meters of one bus; data maps each answering meter's address to its reading."""

    config_entry: MeterLinkConfigEntry

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry, bus: EkmBus) -> None:
        """Set up the coordinator; the poll interval comes from the entry's options."""
        self.bus = bus
        self._states: dict[str, _MeterState] = {}
        # Held for a whole poll and for a write with its read-back, so a poll that started
        # before a write can never publish a reading older than the write's confirmation.
        self._lock = asyncio.Lock()
        self._known_meters = frozenset(meters_of(entry))
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"EKM bus {entry.data[CONF_PORT]}",
            update_interval=timedelta(
                seconds=entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
            ),
            always_update=False,
        )

    @property
    def meters(self) -> dict[str, MeterConfig]:
        """The meters configured right now, by address."""
        return meters_of(self.config_entry)

    @property
    def settings_interval(self) -> timedelta:
        """How often each meter's settings (the v4 B block) are read."""
        return timedelta(
            seconds=self.config_entry.options.get(CONF_SETTINGS_INTERVAL, DEFAULT_SETTINGS_INTERVAL)
        )

    def is_available(self, address: str) -> bool:
        """Whether the meter answered the last poll."""
        return self.last_update_success and self.data is not None and address in self.data

    def latest(self, address: str) -> EkmReading | None:
        """The meter's reading from the last poll or write, if it answered."""
        return (self.data or {}).get(address)

    @callback
    def async_watch_meters(self) -> None:
        """Follow meters being added and removed while the entry is loaded.

        Adding or removing a subentry does not reload the entry, and an update listener
        would clash with flows that reload the entry themselves, so the change signal is
        followed instead: platforms add entities for new meters as soon as listeners are
        told, and the meter is read right away.
        """

        @callback
        def _entry_changed(change: ConfigEntryChange, entry: ConfigEntry) -> None:
            if change is not ConfigEntryChange.UPDATED or entry is not self.config_entry:
                return
            current = frozenset(meters_of(entry))
            if current == self._known_meters:
                return
            added = current - self._known_meters
            self._known_meters = current
            LOGGER.debug("Meters on %s changed; added %s", self.name, sorted(added))
            self.async_update_listeners()
            entry.async_create_background_task(
                self.hass, self.async_request_refresh(), name=f"{self.name} meters changed"
            )

        self.config_entry.async_on_unload(
            async_dispatcher_connect(self.hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)
        )

    # Polling ------------------------------------------------------------------------------

    @override
    async def _async_update_data(self) -> dict[str, EkmReading]:
        """Read every configured meter once; keep going past meters that fail."""
        meters = self.meters
        for address in set(self._states) - set(meters):
            del self._states[address]  # the meter was removed
        if not meters:
            return {}
        data: dict[str, EkmReading] = {}
        last_error: MeterError | None = None
        async with self._lock:
            for meter in meters.values():
                try:
                    data[meter.address] = await self._async_poll_meter(meter)
                except MeterError as err:
                    last_error = err
                    self._mark_unavailable(meter, err)
        if not data:
            assert last_error is not None
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="all_meters_unavailable",
                translation_placeholders={
                    "port": self.config_entry.data[CONF_PORT],
                    "error": str(last_error),
                },
            ) from last_error
        return data

    async def _async_poll_meter(self, meter: MeterConfig, *, force_b: bool = False) -> EkmReading:
        """Read one meter: A every time, B when due (merged under A otherwise), then guard it."""
        state = self._state(meter.address)
        now = dt_util.utcnow()
        include_b = meter.version is MeterVersion.V4 and (
            force_b
            or state.force_settings
            or state.settings is None
            or state.settings_read_at is None
            or now - state.settings_read_at >= self.settings_interval
        )
        reading = await self.bus.read_meter(meter.address, meter.version, include_b=include_b)
        if include_b:
            state.settings, state.settings_read_at = reading, now
            state.force_settings = False
        elif state.settings is not None:
            reading = reading.merged_with(state.settings)
        reading = state.guard.apply(reading)
        if not state.available:
            state.available = True
            LOGGER.info("Meter %s is answering again", meter.address)
        self._sync_device(meter, state, reading)
        return reading

    def _state(self, address: str) -> _MeterState:
        if (state := self._states.get(address)) is None:
            state = self._states[address] = _MeterState(guard=EnergyGuard(address))
        return state

    def _mark_unavailable(self, meter: MeterConfig, err: MeterError) -> None:
        state = self._state(meter.address)
        if state.available:
            state.available = False
            LOGGER.info("Meter %s is unavailable: %s", meter.address, err)
        else:
            LOGGER.debug("Meter %s still unavailable: %s", meter.address, err)

    def _sync_device(self, meter: MeterConfig, state: _MeterState, reading: EkmReading) -> None:
        """Keep the device's model and firmware as the meter reports them."""
        reported = (reading.model, reading.firmware)
        if reported == state.device_info or None in reported:
            return
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier(
            (DOMAIN, meter.address), self.config_entry.entry_id
        )
        if device is None:
            return  # entities not added yet: they register the device with these values
        state.device_info = reported
        identity = device_identity(reading)
        shown = (device.model, device.sw_version, device.model_id)
        if shown != (identity.get("model"), identity.get("sw_version"), None):
            # model_id cleared: devices registered before issue 13 #8 showed "(1024)".
            registry.async_update_device(
                device.id,
                model=identity.get("model"),
                model_id=None,
                sw_version=identity.get("sw_version"),
            )

    # Actions ------------------------------------------------------------------------------

    def meter(self, address: str) -> MeterConfig:
        """The configured meter at `address`, or a translated error when there is none."""
        if (meter := self.meters.get(address)) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="meter_not_configured",
                translation_placeholders={"address": address},
            )
        return meter

    async def async_read(self, address: str) -> EkmReading:
        """Read one meter now (B included) and publish the result; returns the raw reading."""
        meter = self.meter(address)
        async with self._lock:
            with translate_errors(READ_ERRORS, {"address": address}):
                reading = await self.bus.read_meter(meter.address, meter.version)
            state = self._state(meter.address)
            if meter.version is MeterVersion.V4:
                state.settings, state.settings_read_at = reading, dt_util.utcnow()
                state.force_settings = False
            self._publish(meter, state.guard.apply(reading))
        return reading

    async def async_execute(self, address: str, command: Command) -> EkmReading:
        """Send a write with the meter's password, then read the meter back and publish it.

        Returns the confirmed reading: the value a relay or setting has now, as the meter
        reports it, never the value that was asked for.
        """
        meter = self.meter(address)
        placeholders = {"address": address, "command": command.description}
        if meter.password is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="password_required",
                translation_placeholders={"address": address},
            )
        if meter.version is MeterVersion.V3 and command.min_version is MeterVersion.V4:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_supported",
                translation_placeholders=placeholders,
            )
        async with self._lock:
            await self._async_send(meter, command, placeholders)
            state = self._state(meter.address)
            if command.code == ZERO_RESETTABLE_CODE:
                state.guard.reset_expected = True
            try:
                reading = await self._async_poll_meter(meter, force_b=command.changes_settings)
            except MeterError as err:
                state.force_settings = state.force_settings or command.changes_settings
                self._mark_unavailable(meter, err)
                self._publish(meter, None)
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="command_unconfirmed",
                    translation_placeholders={**placeholders, "error": str(err)},
                ) from err
            self._publish(meter, reading)
        return reading

    async def _async_send(
        self, meter: MeterConfig, command: Command, placeholders: dict[str, str]
    ) -> None:
        """Carry out the write, turning library errors into translated ones."""
        assert meter.password is not None
        reauth = Reauth(
            lambda data: self.config_entry.async_start_reauth(self.hass, data=data),
            {"subentry_id": meter.subentry_id},
        )
        with translate_errors(COMMAND_ERRORS, placeholders, reauth=reauth):
            await self.bus.execute(meter.address, command, meter.password, meter.version)
        LOGGER.debug("Meter %s: %s done", meter.address, command.description)

    @callback
    def _publish(self, meter: MeterConfig, reading: EkmReading | None) -> None:
        """Replace one meter's reading (None: unavailable) and tell the entities.

        After a failed poll the other meters' readings are stale, so they are left out
        rather than shown as available again.
        """
        data = dict(self.data or {}) if self.last_update_success else {}
        if reading is None:
            data.pop(meter.address, None)
        else:
            data[meter.address] = reading
        self.async_set_updated_data(data)

    def diagnostics(self) -> dict[str, object]:
        """Per-meter state worth a bug report (no passwords)."""
        result: dict[str, object] = {}
        for address, state in self._states.items():
            result[address] = {
                "available": state.available,
                "settings_read_at": (
                    state.settings_read_at.isoformat() if state.settings_read_at else None
                ),
                "held_registers": sorted(state.guard.held),
            }
        return result


def reading_as_dict(reading: EkmReading) -> dict[str, Any]:
    """A reading as plain data, for diagnostics and action responses."""
    return {
        "address": reading.address,
        "version": reading.version.value,
        "fields": dict(reading.fields),
    }


def readings_as_dict(data: Mapping[str, EkmReading] | None) -> dict[str, dict[str, Any]]:
    """Readings by address as plain data."""
    return {address: reading_as_dict(reading) for address, reading in (data or {}).items()}
