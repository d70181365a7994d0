"""Entities of EKM Push and Push3 entries: the shared EKM tables plus what only Push knows.

A meter gets the same sensors and binary sensors as on RS-485 (the classes of `ekm.entities`),
plus the time of its last read and a connectivity sensor that turns off when the gateway stops
reporting it. An ioStack gets the sensors of `push.descriptions`. Entities appear as devices
appear in the data, and a device that left (or was deleted by the user) gets entities again if
it comes back.

Every entity writes state only when what it shows changed (`MeterLinkEntity`): a poll that brings
nothing new writes no state even with a thousand meters, and a new read rewrites only the values
that moved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from ..const import DOMAIN
from ..ekm import descriptions as ekm
from ..ekm.const import MANUFACTURER_EKM
from ..ekm.coordinator import printed_number
from ..ekm.entities import EkmBinarySensor, EkmSensor, MeterEntityClass, meter_entities
from ..entity import MeterLinkEntity, async_add_new_entities
from ..meters.push import IoStackReading
from ..runtime import MeterLinkConfigEntry
from .coordinator import Push3Coordinator, PushCoordinator, PushData, push_meter, push_runtime
from .descriptions import (
    GATEWAY_CONNECTED,
    GATEWAY_LAST_POLL,
    GENERIC_KEY,
    LAST_READING,
    REPORTING,
    IoStackBinarySensorEntityDescription,
    IoStackSensorEntityDescription,
    binary_sensors_for,
    field_label,
    sensors_for,
)
from .history import HistoryImporter
from .streaming import StreamingBinarySensor

type EntityFactory = Callable[[PushCoordinator, PushData, str], list[Entity]]


def iostack_device_info(
    coordinator: PushCoordinator, address: str, reading: IoStackReading
) -> DeviceInfo:
    """The device of an ioStack, linked to its gateway."""
    info = DeviceInfo(
        identifiers={(DOMAIN, address)},
        manufacturer=MANUFACTURER_EKM,
        model="ioStack",
        name=f"ioStack {printed_number(address)}",
        serial_number=address,
    )
    if (firmware := reading.fields.get("Firmware")) is not None:
        info["sw_version"] = str(firmware)
    if (gateway := coordinator.gateway_device_id(address)) is not None:
        info["via_device_id"] = gateway
    return info


def device_info_of(coordinator: PushCoordinator, data: PushData, address: str) -> DeviceInfo:
    """The device of a meter or ioStack in `data`."""
    if (reading := data.meters.get(address)) is not None:
        return coordinator.device_info(push_meter(address, reading))
    return iostack_device_info(coordinator, address, data.iostacks[address])


@callback
def async_add_push_entities(
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    factory: EntityFactory,
) -> None:
    """Add a platform's entities for every device with a reading, now and as devices appear.

    A device's generation is its epoch: one the user deleted gets entities again if it returns.
    """
    coordinator = push_runtime(entry).coordinator

    def keys() -> dict[str, int]:
        data: PushData | None = coordinator.data
        if data is None:
            return {}
        return {address: coordinator.epoch(address) for address in data.timestamps}

    async_add_new_entities(
        entry,
        coordinator,
        async_add_entities,
        keys,
        lambda address: factory(coordinator, coordinator.data, address),
    )


class PushDeviceEntity(MeterLinkEntity[PushCoordinator]):
    """An entity of one device of a key or gateway; writes state only when it changed."""

    def __init__(
        self,
        coordinator: PushCoordinator,
        address: str,
        description: Any,
        device_info: DeviceInfo,
    ) -> None:
        """Attach the entity to its device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.address = address
        self._attr_unique_id = coordinator.entity_unique_id(address, description.key)
        self._attr_device_info = device_info

    @property
    def data(self) -> PushData:
        """The coordinator's latest data."""
        return self.coordinator.data


class PushLastReadingSensor(PushDeviceEntity, SensorEntity):
    """When the gateway last read the device; stays available while the device is silent."""

    @property
    def available(self) -> bool:
        """Available while the key or gateway answers and lists the device."""
        return super().available and self.data.has(self.address)

    def _shown_value(self) -> object:
        """The gateway's time stamp of the newest good read."""
        self._attr_native_value = self.data.timestamp(self.address)
        return self._attr_native_value

    def _write_token(self) -> object:
        return (self.data.timestamps.get(self.address), self.data.has(self.address))


class PushReportingBinarySensor(PushDeviceEntity, BinarySensorEntity):
    """On while the gateway reports the device; off when its newest read grows too old."""

    @property
    def available(self) -> bool:
        """Available while the key or gateway answers and lists the device."""
        return super().available and self.data.has(self.address)

    def _shown_value(self) -> object:
        """Whether the newest read is recent enough."""
        self._attr_is_on = self.address not in self.data.stale
        return self._attr_is_on

    def _write_token(self) -> object:
        return (self.data.has(self.address), self.address in self.data.stale)


class _Push3GatewayEntity(MeterLinkEntity[Push3Coordinator]):
    """An entity of the Push3 gateway itself: what the user checks when its meters go quiet."""

    def __init__(self, coordinator: Push3Coordinator, description: Any) -> None:
        """Attach the entity to the gateway's device."""
        super().__init__(coordinator)
        self.entity_description = description
        gateway = coordinator.gateway_id
        self._attr_unique_id = coordinator.entity_unique_id(gateway, description.key)
        self._attr_device_info = coordinator.gateway_device_info(gateway)

    @property
    def available(self) -> bool:
        """Always: an unreachable gateway is what these entities report."""
        return True


class Push3GatewayConnectedSensor(_Push3GatewayEntity, BinarySensorEntity):
    """On while the gateway answered its last poll on the local network."""

    @property
    def is_on(self) -> bool:
        """Whether the last poll succeeded."""
        return self.coordinator.last_update_success

    def _write_token(self) -> object:
        return self.coordinator.last_update_success


class Push3GatewayLastPollSensor(_Push3GatewayEntity, SensorEntity):
    """When the gateway last answered a poll (Home Assistant's clock, not the gateway's)."""

    _last_poll: datetime | None = None

    @property
    def native_value(self) -> datetime | None:
        """The time of the last successful poll since Home Assistant started."""
        return self._last_poll

    @callback
    def _handle_coordinator_update(self) -> None:
        if self.coordinator.last_update_success:
            self._last_poll = dt_util.utcnow()
        super()._handle_coordinator_update()

    async def async_added_to_hass(self) -> None:
        """The first poll ran before the entity existed: it counts."""
        await super().async_added_to_hass()
        if self.coordinator.last_update_success and self.coordinator.data is not None:
            self._last_poll = dt_util.utcnow()

    def _write_token(self) -> object:
        return self._last_poll


class _IoStackEntity(PushDeviceEntity):
    """An ioStack value; unavailable while the ioStack's read is stale."""

    @property
    def available(self) -> bool:
        """Available while the ioStack's read is fresh."""
        return (
            super().available
            and self.address in self.data.iostacks
            and self.address not in self.data.stale
        )

    @property
    def reading(self) -> IoStackReading:
        """The ioStack's latest read (only while available)."""
        return self.data.iostacks[self.address]

    def _write_token(self) -> object:
        return (self.data.iostacks.get(self.address), self.address in self.data.stale)


class IoStackSensor(_IoStackEntity, SensorEntity):
    """A numeric ioStack field."""

    entity_description: IoStackSensorEntityDescription

    def __init__(
        self,
        coordinator: PushCoordinator,
        address: str,
        description: IoStackSensorEntityDescription,
        device_info: DeviceInfo,
    ) -> None:
        """Name a field no table knows by the field's own name, written as words."""
        super().__init__(coordinator, address, description, device_info)
        if description.translation_key == GENERIC_KEY:
            self._attr_translation_placeholders = {"field": field_label(description.field)}

    def _shown_value(self) -> object:
        """The field's value."""
        self._attr_native_value = self.entity_description.value_fn(self.reading)
        return self._attr_native_value


class IoStackBinarySensor(_IoStackEntity, BinarySensorEntity):
    """An ioStack output or input state."""

    entity_description: IoStackBinarySensorEntityDescription

    def _shown_value(self) -> object:
        """The state from the latest read."""
        self._attr_is_on = self.entity_description.value_fn(self.reading)
        return self._attr_is_on


class HistoryImportSensor(SensorEntity):
    """How far the entry's EKM history import is (diagnostic, one per entry).

    The state is the end of the history every meter has (a timestamp: all hours before it are
    in the statistics); the attributes say per meter how far it is. It writes state only when
    that changed, not at every notification; the attributes are not recorded.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "history_import"
    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_should_poll = False
    _unrecorded_attributes = frozenset({"meters"})
    _published: object = None

    def __init__(self, entry: MeterLinkConfigEntry, history: HistoryImporter) -> None:
        """One per entry (the entry's unique id is the key's hash, never the key)."""
        self._history = history
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_history_import"

    def _shown_value(self) -> object:
        """Set the state and attributes from the importer; return them."""
        self._attr_native_value = self._history.imported_until()
        meters = self._history.meter_progress()
        self._attr_extra_state_attributes = {"running": self._history.running, "meters": meters}
        return (self._attr_native_value, self._history.running, meters)

    @callback
    def _progressed(self) -> None:
        if (shown := self._shown_value()) != self._published:
            self._published = shown
            self.async_write_ha_state()

    async def async_added_to_hass(self) -> None:
        """Follow the importer's progress."""
        self._published = self._shown_value()
        self.async_on_remove(self._history.async_add_listener(self._progressed))


type DeviceEntity = Callable[[PushCoordinator, str, Any, DeviceInfo], Entity]


def _platform_factory(
    status: tuple[DeviceEntity, Any],
    meter_table: tuple[MeterEntityClass[Any], tuple[Any, ...]],
    iostack_table: tuple[DeviceEntity, Callable[[IoStackReading], Iterable[Any]]],
) -> EntityFactory:
    """A platform's entities of one device: its status entity, then its meter or ioStack table."""
    status_class, status_description = status
    meter_class, meter_descriptions = meter_table
    iostack_class, iostack_descriptions = iostack_table

    def factory(coordinator: PushCoordinator, data: PushData, address: str) -> list[Entity]:
        info = device_info_of(coordinator, data, address)
        entities = [status_class(coordinator, address, status_description, info)]
        if address in data.meters:
            meter = push_meter(address, data.meters[address])
            entities += meter_entities(coordinator, meter, meter_class, meter_descriptions)
        else:
            entities += [
                iostack_class(coordinator, address, description, info)
                for description in iostack_descriptions(data.iostacks[address])
            ]
        return entities

    return factory


_SENSORS: Final = _platform_factory(
    (PushLastReadingSensor, LAST_READING),
    (EkmSensor, ekm.SENSORS),
    (IoStackSensor, sensors_for),
)
_BINARY_SENSORS: Final = _platform_factory(
    (PushReportingBinarySensor, REPORTING),
    (EkmBinarySensor, ekm.BINARY_SENSORS),
    (IoStackBinarySensor, binary_sensors_for),
)


@callback
def async_add_push_sensors(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Sensor platform: the EKM sensor table per meter, ioStack fields, last reads, history."""
    async_add_push_entities(entry, async_add_entities, _SENSORS)
    coordinator = push_runtime(entry).coordinator
    if isinstance(coordinator, Push3Coordinator):
        async_add_entities([Push3GatewayLastPollSensor(coordinator, GATEWAY_LAST_POLL)])
    if (history := push_runtime(entry).history) is not None:
        async_add_entities([HistoryImportSensor(entry, history)])


@callback
def async_add_push_binary_sensors(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Binary sensor platform: the EKM table per meter, ioStack states, reporting, streaming."""
    async_add_push_entities(entry, async_add_entities, _BINARY_SENSORS)
    coordinator = push_runtime(entry).coordinator
    if isinstance(coordinator, Push3Coordinator):
        async_add_entities([Push3GatewayConnectedSensor(coordinator, GATEWAY_CONNECTED)])
    streaming = push_runtime(entry).streaming
    if streaming is not None and streaming.active:
        async_add_entities([StreamingBinarySensor(streaming)])
