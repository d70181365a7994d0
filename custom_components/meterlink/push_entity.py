"""Entities of EKM Push and Push3 entries: the shared EKM tables plus what only Push knows.

A meter gets the same sensors and binary sensors as on RS-485 (the entity classes of
`sensor`/`binary_sensor`, passed in by those platforms), plus the time of its last read and a
connectivity sensor that turns off when the gateway stops reporting it. An ioStack gets the
sensors of `descriptions.iostack`. Entities appear as devices appear in the data, and a device
that left (or was deleted by the user) gets entities again if it comes back.

Every entity writes state only when what it shows changed (`_token`), so a poll that brings
nothing new writes no state even with a thousand meters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
)
from homeassistant.components.sensor import (
    SensorEntity,
)
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER_EKM
from .descriptions import ekm, iostack
from .descriptions.iostack import (
    IoStackBinarySensorEntityDescription,
    IoStackSensorEntityDescription,
)
from .descriptions.push import LAST_READING, REPORTING
from .entity import MeterEntityClass
from .meters.push import IoStackReading
from .push_coordinator import PushCoordinator, PushData, push_meter, push_runtime
from .runtime import MeterLinkConfigEntry

type EntityFactory = Callable[[PushCoordinator, PushData, str], list[Entity]]


def iostack_device_info(
    coordinator: PushCoordinator, address: str, reading: IoStackReading
) -> DeviceInfo:
    """The device of an ioStack, linked to its gateway."""
    printed = address[3:] if address.startswith("000") else address
    info = DeviceInfo(
        identifiers={(DOMAIN, address)},
        manufacturer=MANUFACTURER_EKM,
        model="ioStack",
        name=f"ioStack {printed}",
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
    """Add a platform's entities for every device with a reading, now and as devices appear."""
    coordinator = push_runtime(entry).coordinator
    added: dict[str, int] = {}  # address -> the epoch its entities were added in

    @callback
    def _add_new_devices() -> None:
        data: PushData | None = coordinator.data
        if data is None:
            return
        new: list[Entity] = []
        for address in data.timestamps:
            epoch = coordinator.epoch(address)
            if added.get(address) != epoch:
                added[address] = epoch
                new.extend(factory(coordinator, data, address))
        if new:
            async_add_entities(new)

    _add_new_devices()
    entry.async_on_unload(coordinator.async_add_listener(_add_new_devices))


class PushDeviceEntity(CoordinatorEntity[PushCoordinator]):
    """An entity of one device of a key or gateway; writes state only when it changed."""

    _attr_has_entity_name = True

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
        self._written: tuple[object, bool] | None = None

    @property
    def data(self) -> PushData:
        """The coordinator's latest data."""
        return self.coordinator.data

    def _token(self) -> object:
        """What the state depends on besides the poll's success."""
        raise NotImplementedError

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state only when what it shows changed."""
        written = (self._token(), self.coordinator.last_update_success)
        if written == self._written:
            return
        self._written = written
        super()._handle_coordinator_update()


class PushLastReadingSensor(PushDeviceEntity, SensorEntity):
    """When the gateway last read the device; stays available while the device is silent."""

    @property
    def available(self) -> bool:
        """Available while the key or gateway answers and lists the device."""
        return super().available and self.data.has(self.address)

    @property
    def native_value(self) -> datetime | None:
        """The gateway's time stamp of the newest good read."""
        return self.data.timestamp(self.address)

    def _token(self) -> object:
        return (self.data.timestamps.get(self.address), self.data.has(self.address))


class PushReportingBinarySensor(PushDeviceEntity, BinarySensorEntity):
    """On while the gateway reports the device; off when its newest read grows too old."""

    @property
    def available(self) -> bool:
        """Available while the key or gateway answers and lists the device."""
        return super().available and self.data.has(self.address)

    @property
    def is_on(self) -> bool:
        """Whether the newest read is recent enough."""
        return self.address not in self.data.stale

    def _token(self) -> object:
        return (self.data.has(self.address), self.address in self.data.stale)


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

    def _token(self) -> object:
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
        """Name a field no table knows by the field's own name."""
        super().__init__(coordinator, address, description, device_info)
        if description.translation_key == iostack.GENERIC_KEY:
            self._attr_translation_placeholders = {"field": description.field}

    @property
    def native_value(self) -> StateType:
        """The field's value."""
        return self.entity_description.value_fn(self.reading)


class IoStackBinarySensor(_IoStackEntity, BinarySensorEntity):
    """An ioStack output or input state."""

    entity_description: IoStackBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """The state from the latest read."""
        return self.entity_description.value_fn(self.reading)


def _meter_entities(
    coordinator: PushCoordinator,
    data: PushData,
    address: str,
    entity_class: MeterEntityClass[Any],
    descriptions: Iterable[Any],
) -> list[Entity]:
    reading = data.meters[address]
    meter = push_meter(address, reading)
    return [
        entity_class(coordinator, meter, description)
        for description in descriptions
        if description.exists_fn(meter.version)
    ]


@callback
def async_add_push_sensors(
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    meter_entity_class: MeterEntityClass[Any],
) -> None:
    """Sensor platform: the EKM sensor table per meter, ioStack fields, last-read times."""

    def factory(coordinator: PushCoordinator, data: PushData, address: str) -> list[Entity]:
        info = device_info_of(coordinator, data, address)
        entities: list[Entity] = [PushLastReadingSensor(coordinator, address, LAST_READING, info)]
        if address in data.meters:
            entities += _meter_entities(coordinator, data, address, meter_entity_class, ekm.SENSORS)
        else:
            entities += [
                IoStackSensor(coordinator, address, description, info)
                for description in iostack.sensors_for(data.iostacks[address])
            ]
        return entities

    async_add_push_entities(entry, async_add_entities, factory)


@callback
def async_add_push_binary_sensors(
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    meter_entity_class: MeterEntityClass[Any],
) -> None:
    """Binary sensor platform: the EKM table per meter, ioStack states, reporting."""

    def factory(coordinator: PushCoordinator, data: PushData, address: str) -> list[Entity]:
        info = device_info_of(coordinator, data, address)
        entities: list[Entity] = [PushReportingBinarySensor(coordinator, address, REPORTING, info)]
        if address in data.meters:
            entities += _meter_entities(
                coordinator, data, address, meter_entity_class, ekm.BINARY_SENSORS
            )
        else:
            entities += [
                IoStackBinarySensor(coordinator, address, description, info)
                for description in iostack.binary_sensors_for(data.iostacks[address])
            ]
        return entities

    async_add_push_entities(entry, async_add_entities, factory)
