"""The coordinators of an EKM Push key (cloud) and of a Push3 gateway (LAN).

One coordinator per config entry: one poll reads every meter and ioStack of the key (the cloud
client packs them into as few requests as the URL length allows; the Push3 answers with all
of them at once), so the request count per poll does not grow with entities, and a rate limit
is met by the whole entry together. The Push system keeps serving a device's last good read
after the device stops answering, so staleness is judged by each read's gateway time stamp,
and is part of the published data: a device going silent is a change of data.

The data published is a `PushData` whose unchanged readings are the very objects of the
previous poll, so `always_update=False` suppresses a listener round when nothing changed,
and the entities of a meter whose reading did not change skip writing state (`update_token`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.const import CONF_API_KEY, CONF_HOST
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from ..const import CONF_SCAN_INTERVAL, DEV_PUSH_URL, DOMAIN, LOGGER
from ..ekm.const import MANUFACTURER_EKM
from ..ekm.coordinator import EkmCoordinator, MeterIdentity, meter_device_info, printed_number
from ..energy_guard import EnergyGuard
from ..errors import poll_errors, update_errors
from ..meters.ekm import EkmReading, MeterVersion
from ..meters.errors import MeterRateLimitError
from ..meters.push import (
    DEFAULT_ACCOUNT_URL,
    DEFAULT_API_URL,
    IoStackReading,
    Push3Client,
    PushClient,
    PushInventory,
    PushReadings,
)
from ..runtime import MeterLinkConfigEntry, MeterLinkRuntimeData, runtime_of

if TYPE_CHECKING:
    from .history import HistoryImporter
    from .settings import DeviceSettings
    from .streaming import PushStreaming

CONF_EXCLUDED: Final = "excluded_devices"  # options: addresses the user chose not to add
# EKM publishes no rate limit; its gateways read each device once a minute, so polling the
# cloud more often only costs requests. The Push3 answers on the LAN and has no limit.
DEFAULT_PUSH_SCAN_INTERVAL: Final = 60
MIN_PUSH_SCAN_INTERVAL: Final = 30
DEFAULT_PUSH3_SCAN_INTERVAL: Final = 30
MIN_PUSH3_SCAN_INTERVAL: Final = 5
MAX_PUSH_SCAN_INTERVAL: Final = 3600
# A read is stale (the gateway no longer reports the device) when older than this many poll
# intervals, and never sooner than MIN_STALE_AFTER: the gateways read once a minute.
STALE_POLLS: Final = 3
MIN_STALE_AFTER: Final = 180.0
# How often the cloud entry asks the Account API which devices the key sees (new meters
# appear, removed ones go away). One request an hour against the rate limit.
DISCOVERY_INTERVAL: Final = timedelta(hours=1)

# The services the cloud client talks to; tests (and a development instance, through
# const.DEV_PUSH_URL) point them at the simulator.
API_URL = DEV_PUSH_URL or DEFAULT_API_URL
ACCOUNT_URL = DEV_PUSH_URL or DEFAULT_ACCOUNT_URL


UPDATE_ERRORS: Final = poll_errors(refused="push_key_refused", unavailable="push_unavailable")


def create_push_client(hass: HomeAssistant, key: str) -> PushClient:
    """A cloud client for `key` on Home Assistant's shared session."""
    return PushClient(
        async_get_clientsession(hass),
        key,
        api_url=API_URL,
        account_url=ACCOUNT_URL,
        clock=_clock,
    )


def create_push3_client(hass: HomeAssistant, host: str, key: str) -> Push3Client:
    """A Push3 LAN client on Home Assistant's shared session."""
    return Push3Client(async_get_clientsession(hass), host, key)


def _clock() -> float:
    """Home Assistant's time, so a rate-limit wait ends when Home Assistant thinks it does."""
    return dt_util.utcnow().timestamp()


@dataclass(frozen=True, slots=True)
class PushMeter:
    """A meter the Push system reports: what its entities and device are built from."""

    address: str
    reading: EkmReading

    @property
    def version(self) -> MeterVersion:
        """Protocol version of the meter (from its reads)."""
        return self.reading.version

    @property
    def model(self) -> str | None:
        """Model code the meter reports."""
        return self.reading.model

    @property
    def title(self) -> str:
        """Model and the number printed on the meter, like a bus meter's title."""
        return f"{self.reading.model_name or 'EKM meter'} {printed_number(self.address)}"


@dataclass(frozen=True, slots=True)
class PushData:
    """One poll's result: guarded meter readings, ioStack readings, and how fresh each is.

    `timestamps` holds every device's gateway read time (ms), `stale` the devices whose read
    is too old, `gateways` the gateway device identifier of each device (None: none known).
    """

    meters: Mapping[str, EkmReading] = field(default_factory=dict)
    iostacks: Mapping[str, IoStackReading] = field(default_factory=dict)
    timestamps: Mapping[str, int | None] = field(default_factory=dict)
    stale: frozenset[str] = frozenset()
    gateways: Mapping[str, str | None] = field(default_factory=dict)

    def has(self, address: str) -> bool:
        """Whether the device has a reading in this poll."""
        return address in self.meters or address in self.iostacks

    def timestamp(self, address: str) -> datetime | None:
        """When the gateway read the device (UTC)."""
        timestamp_ms = self.timestamps.get(address)
        if timestamp_ms is None:
            return None
        return dt_util.utc_from_timestamp(timestamp_ms / 1000)


class PushCoordinator(EkmCoordinator[PushData]):
    """Poll every device of one key or gateway; subclasses say how one poll is fetched."""

    config_entry: MeterLinkConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: MeterLinkConfigEntry, *, name: str, default_interval: int
    ) -> None:
        """Set up polling at the entry's interval; data starts empty."""
        interval = int(entry.options.get(CONF_SCAN_INTERVAL, default_interval))
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=name,
            update_interval=timedelta(seconds=interval),
            always_update=False,
        )
        self.poll_interval = timedelta(seconds=interval)
        self.stale_after = max(MIN_STALE_AFTER, STALE_POLLS * interval)
        self._guards: dict[str, EnergyGuard] = {}
        self._gateway_names: dict[str, str] = {}  # gateway identifier -> name
        self._gateway_devices: dict[str, str] = {}  # gateway identifier -> device id
        # Devices read so far (a silent one keeps its last read until forgotten).
        self.known: set[str] = set()
        # Bumped when a device is forgotten: platforms add entities again for a new epoch, so
        # a device that left (or was deleted by the user) and returns gets entities again.
        self._epochs: dict[str, int] = {}
        self._reported_stale: set[str] = set()
        # While an MQTT stream delivers, polls are only a safety net (`push.streaming`).
        self._stream_interval: timedelta | None = None

    # Fetching -------------------------------------------------------------------------------

    async def _async_fetch(self) -> PushReadings:
        """One poll of every device (raises MeterError subclasses)."""
        raise NotImplementedError

    def _gateway_of(self, address: str, reported: str | None) -> str | None:
        """The identifier of the gateway device a device hangs off."""
        raise NotImplementedError

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (for diagnostics and the benchmark)."""
        return 0

    def error_placeholders(self) -> dict[str, str]:
        """Every message names the key's or gateway's entry."""
        return {"name": self.name}

    @override
    @update_errors(UPDATE_ERRORS)
    async def _async_update_data(self) -> PushData:
        """Fetch, then guard and publish; key refused -> reauth, 429 -> back off."""
        try:
            readings = await self._async_fetch()
        except MeterRateLimitError as err:
            return self._rate_limited(err)
        interval = self._stream_interval or self.poll_interval
        if self.update_interval != interval:
            LOGGER.debug("%s: polling every %s", self.name, interval)
            self.update_interval = interval
        return self._build(readings)

    # Streaming (push.streaming) ---------------------------------------------------------------

    def is_newer(self, address: str, timestamp_ms: int | None) -> bool:
        """Whether a read is newer than the one published for the device (unknown: it is)."""
        published = None if self.data is None else self.data.timestamps.get(address)
        return timestamp_ms is None or published is None or timestamp_ms > published

    @callback
    def async_apply_stream(self, readings: PushReadings) -> None:
        """Publish streamed readings at once, through the same guards as a poll."""
        data = self._build(readings)
        if data is not self.data:
            self.async_set_updated_data(data)

    def set_stream_interval(self, interval: timedelta | None) -> None:
        """Poll every `interval` while streams deliver; None: back to the entry's interval."""
        # A rate-limit wait is kept by the cloud client itself, so it may be overridden here.
        self._stream_interval = interval
        self.update_interval = interval or self.poll_interval

    def _rate_limited(self, err: MeterRateLimitError) -> PushData:
        """Wait as long as the service asked; meanwhile what was read stays, while it is fresh.

        Readings carry the gateway's own timestamps, so keeping them is honest: each device goes
        unavailable by the usual staleness rule, not because the service asked for a pause.
        """
        wait = max(err.retry_after or 0.0, self.poll_interval.total_seconds())
        if self.data is None:  # nothing to keep: the first refresh fails and setup retries
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="push_rate_limited",
                translation_placeholders={"name": self.name, "seconds": f"{wait:.0f}"},
                retry_after=wait,
            ) from err
        LOGGER.debug("%s: rate limited, next poll in %.0f s", self.name, wait)
        self.update_interval = timedelta(seconds=wait)
        return self._build(PushReadings({}, {}, {}))

    def _build(self, readings: PushReadings) -> PushData:
        """The data to publish; unchanged readings stay the previous objects."""
        previous = self.data or PushData()
        now = dt_util.utcnow().timestamp()
        meters: dict[str, EkmReading] = {}
        iostacks: dict[str, IoStackReading] = {}
        timestamps: dict[str, int | None] = {}
        gateways: dict[str, str | None] = {}
        # A read not newer than the one published (polled or streamed) is no news: the
        # device then keeps its reading below, as a device without a read does.
        for address, push in readings.meters.items():
            if not self._wanted(address) or not self.is_newer(address, push.timestamp_ms):
                continue
            guard = self._guards.get(address)
            if guard is None:
                guard = self._guards[address] = EnergyGuard(address)
            reading = guard.apply(push.reading)
            old = previous.meters.get(address)
            meters[address] = old if old is not None and old == reading else reading
            timestamps[address] = push.timestamp_ms
            gateways[address] = self._gateway_of(address, push.gateway)
        for address, stack in readings.iostacks.items():
            if not self._wanted(address) or not self.is_newer(address, stack.timestamp_ms):
                continue
            old_stack = previous.iostacks.get(address)
            iostacks[address] = old_stack if old_stack == stack else stack
            timestamps[address] = stack.timestamp_ms
            gateways[address] = self._gateway_of(address, stack.gateway)
        # A device the gateway has no good read of keeps its last one (and grows stale).
        for address in self.known - timestamps.keys():
            if (kept := previous.meters.get(address)) is not None:
                meters[address] = kept
            elif (old_stack := previous.iostacks.get(address)) is not None:
                iostacks[address] = old_stack
            else:
                continue
            timestamps[address] = previous.timestamps.get(address)
            gateways[address] = previous.gateways.get(address)
        stale = frozenset(
            address
            for address, timestamp_ms in timestamps.items()
            if timestamp_ms is None or now - timestamp_ms / 1000 > self.stale_after
        )
        self._log_staleness(stale)
        self.known.update(timestamps)
        self._sync_gateway_devices(gateways.values())
        data = PushData(
            meters,
            iostacks,
            timestamps,
            stale,
            gateways if gateways != previous.gateways else previous.gateways,
        )
        return previous if data == previous else data

    def _wanted(self, address: str) -> bool:
        """Whether a device's readings are published (not excluded by the user)."""
        return True

    def _log_staleness(self, stale: frozenset[str]) -> None:
        for address in stale - self._reported_stale:
            LOGGER.info("%s: %s is no longer reported by its gateway", self.name, address)
        for address in self._reported_stale - stale:
            LOGGER.info("%s: %s is reported again", self.name, address)
        self._reported_stale = set(stale)

    # Devices --------------------------------------------------------------------------------

    def gateway_device_info(self, identifier: str) -> DeviceInfo:
        """The device of a gateway."""
        return DeviceInfo(
            identifiers={(DOMAIN, identifier)},
            manufacturer=MANUFACTURER_EKM,
            model="Push3",
            name=self._gateway_names.get(identifier, f"Push3 {identifier}"),
        )

    def _sync_gateway_devices(self, identifiers: Iterable[str | None]) -> None:
        """Create the gateway devices before entities link to them (`via_device_id`)."""
        registry = dr.async_get(self.hass)
        for identifier in set(identifiers) - set(self._gateway_devices):
            if identifier is not None:
                device = registry.async_get_or_create(
                    config_entry_id=self.config_entry.entry_id,
                    **self.gateway_device_info(identifier),
                )
                self._gateway_devices[identifier] = device.id

    def gateway_device_id(self, address: str) -> str | None:
        """The device id of the gateway a device hangs off, if any."""
        gateway = None if self.data is None else self.data.gateways.get(address)
        return None if gateway is None else self._gateway_devices.get(gateway)

    def forget(self, address: str) -> None:
        """Drop a device's memory: it left the account or the user deleted it."""
        self.known.discard(address)
        self._guards.pop(address, None)
        self._epochs[address] = self.epoch(address) + 1

    def epoch(self, address: str) -> int:
        """How often the device was forgotten (its entities were removed) so far."""
        return self._epochs.get(address, 0)

    def remove_device(self, address: str) -> None:
        """Detach a device that left the account from this entry (its entities go with it)."""
        self.forget(address)
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier(
            (DOMAIN, address), self.config_entry.entry_id
        )
        if device is not None:
            LOGGER.info("%s: %s left the account; removing its device", self.name, address)
            registry.async_update_device(
                device.id, remove_config_entry_id=self.config_entry.entry_id
            )

    def can_remove(self, address: str) -> bool:
        """A device may be deleted by the user while the gateway does not report it."""
        data = self.data
        if data is not None and data.has(address) and address not in data.stale:
            return False
        self.forget(address)
        return True

    # EkmCoordinator -------------------------------------------------------------------------

    def is_available(self, address: str) -> bool:
        """A meter's values are shown while its read is fresh."""
        data = self.data
        return (
            self.last_update_success
            and data is not None
            and address in data.meters
            and address not in data.stale
        )

    def latest(self, address: str) -> EkmReading | None:
        """The meter's latest guarded reading."""
        return None if self.data is None else self.data.meters.get(address)

    def entity_unique_id(self, address: str, key: str) -> str:
        """Namespaced by the entry: the same meter may also be on a bus or another key."""
        return f"{self.config_entry.unique_id}_{address}_{key}"

    def device_info(self, meter: MeterIdentity) -> DeviceInfo:
        """A meter's device, linked to the gateway that reads it."""
        return meter_device_info(
            meter, self.latest(meter.address), via_device_id=self.gateway_device_id(meter.address)
        )

    def update_token(self, address: str) -> object | None:
        """A meter's entities change only with its reading object and its staleness."""
        data: PushData | None = self.data
        if data is None:
            return None
        return (data.meters.get(address), address in data.stale)

    def diagnostics(self) -> dict[str, Any]:
        """Per-device freshness and held registers (never the key)."""
        data = self.data or PushData()
        return {
            "last_update_success": self.last_update_success,
            "requests_sent": self.requests_sent,
            "stale_after": self.stale_after,
            "devices": {
                address: {
                    "kind": "meter" if address in data.meters else "iostack",
                    "read_at": ts.isoformat() if (ts := data.timestamp(address)) else None,
                    "stale": address in data.stale,
                    "gateway": data.gateways.get(address),
                    "held_registers": sorted(guard.held)
                    if (guard := self._guards.get(address))
                    else [],
                }
                for address in sorted(data.timestamps)
            },
        }


def cloud_gateway_id(mac: str) -> str:
    """Device identifier of a Push3 gateway the cloud names by MAC address."""
    return f"push3_{mac.replace(':', '').lower()}"


class EkmPushCoordinator(PushCoordinator):
    """Every device one EKM Push key sees, through the cloud."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry, client: PushClient):
        """Poll through `client`; the device list comes from the Account API."""
        super().__init__(
            hass, entry, name=f"EKM Push {entry.title}", default_interval=DEFAULT_PUSH_SCAN_INTERVAL
        )
        self.client = client
        self.inventory: PushInventory | None = None
        self._discovered_at: datetime | None = None
        self._excluded = frozenset(entry.options.get(CONF_EXCLUDED, ()))

    @property
    def requests_sent(self) -> int:
        """Requests the client has sent (reads and discoveries)."""
        return self.client.requests_sent

    def _wanted(self, address: str) -> bool:
        return address not in self._excluded

    async def _async_fetch(self) -> PushReadings:
        """Rediscover the devices when due, then read all of them."""
        now = dt_util.utcnow()
        if (
            self.inventory is None
            or self._discovered_at is None
            or now - self._discovered_at >= DISCOVERY_INTERVAL
        ):
            self._apply_inventory(await self.client.discover())
            self._discovered_at = now
        assert self.inventory is not None
        devices = [address for address in self.inventory.devices if self._wanted(address)]
        if not devices:
            return PushReadings()
        # Reads already published (polled or streamed) are not parsed again.
        return await self.client.read(devices, newer_than=self.is_newer)

    def _apply_inventory(self, inventory: PushInventory) -> None:
        """Take a fresh device list: name gateways, drop devices that left the account."""
        for gateway in inventory.gateways:
            self._gateway_names[cloud_gateway_id(gateway.mac)] = gateway.name or (
                f"Push3 {gateway.mac}"
            )
        if self.inventory is not None:
            for address in set(self.inventory.devices) - set(inventory.devices):
                self.remove_device(address)
        self.inventory = inventory

    def _gateway_of(self, address: str, reported: str | None) -> str | None:
        if reported:
            return cloud_gateway_id(reported)
        gateway = self.inventory.gateway_of(address) if self.inventory else None
        return cloud_gateway_id(gateway.mac) if gateway else None

    def diagnostics(self) -> dict[str, Any]:
        """Adds the inventory's shape: gateways and device counts."""
        inventory = self.inventory or PushInventory()
        return {
            **super().diagnostics(),
            "inventory": {
                "gateways": [gateway.mac for gateway in inventory.gateways],
                "meters": len(inventory.meters),
                "iostacks": len(inventory.iostacks),
                "excluded": sorted(self._excluded),
            },
        }


class Push3Coordinator(PushCoordinator):
    """Every device on one Push3 gateway, through its local API."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry, client: Push3Client):
        """Poll the gateway at `client.host`."""
        super().__init__(
            hass,
            entry,
            name=f"Push3 {entry.data[CONF_HOST]}",
            default_interval=DEFAULT_PUSH3_SCAN_INTERVAL,
        )
        self.client = client
        self._requests = 0
        assert entry.unique_id is not None
        self.gateway_id: str = entry.unique_id
        self._gateway_names[self.gateway_id] = entry.title

    @property
    def requests_sent(self) -> int:
        """One request per poll."""
        return self._requests

    async def _async_fetch(self) -> PushReadings:
        self._requests += 1
        return await self.client.read(newer_than=self.is_newer)

    def _gateway_of(self, address: str, reported: str | None) -> str | None:
        return self.gateway_id

    def gateway_device_info(self, identifier: str) -> DeviceInfo:
        """The gateway, with a link to its web page."""
        info = super().gateway_device_info(identifier)
        info["configuration_url"] = f"http://{self.client.host}"
        return info


@dataclass(slots=True)
class PushRuntimeData(MeterLinkRuntimeData):
    """What a loaded EKM Push or Push3 entry keeps (the session is shared).

    A cloud entry also has `settings`: the Device Settings and Trigger API clients.
    """

    coordinator: PushCoordinator
    settings: DeviceSettings | None = None
    streaming: PushStreaming | None = None
    history: HistoryImporter | None = None  # EKM history statistics (cloud entries)

    async def async_close(self) -> None:
        """Stop the answer streams of commands still waiting."""
        if self.settings is not None:
            await self.settings.async_close()

    def diagnostics(self) -> dict[str, Any]:
        """Device freshness, what the API token may do, the history import; no key or token."""
        result = self.coordinator.diagnostics()
        if self.settings is not None:
            result["device_settings"] = self.settings.diagnostics()
        if self.streaming is not None:
            result["streaming"] = self.streaming.diagnostics()
        if self.history is not None:
            result["history"] = self.history.diagnostics()
        return result


def push_runtime(entry: MeterLinkConfigEntry) -> PushRuntimeData:
    """The runtime data of a loaded EKM Push or Push3 entry."""
    return runtime_of(entry, PushRuntimeData)


def push_meter(address: str, reading: EkmReading) -> PushMeter:
    """The identity of a meter the Push system reports."""
    return PushMeter(address, reading)


def entry_key(entry: MeterLinkConfigEntry) -> str:
    """The entry's EKM key (never logged)."""
    key: str = entry.data[CONF_API_KEY]
    return key
