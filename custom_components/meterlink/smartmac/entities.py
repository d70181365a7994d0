"""Entities of a smart-MAC device: its sensors and its load relay, all fed by one coordinator.

Which entities exist follows the device's reading, not a model table: a key the device reports
gets its entity, and a key that shows up later (a firmware update) gets one as soon as it is
seen. Nothing is restored at start-up: until the device has answered, there is no entity state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.components.sensor import SensorEntity
from homeassistant.components.switch import SwitchEntity
from homeassistant.const import CONF_DEVICE_ID
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..const import DOMAIN
from ..entity import MeterLinkEntity, async_add_new_entities
from ..meters.smartmac import SmartMacModel, SmartMacReading
from ..runtime import MeterLinkConfigEntry
from .coordinator import SmartMacCoordinator, smartmac_runtime
from .descriptions import (
    SmartMacSensorEntityDescription,
    SmartMacSwitchEntityDescription,
    sensor_descriptions,
    switch_descriptions,
)
from .options import model_of

MANUFACTURER_SMARTMAC = "smart-MAC"


def smartmac_device_info(
    entry: MeterLinkConfigEntry, coordinator: SmartMacCoordinator
) -> DeviceInfo:
    """The device: model as detected from its reading, and its own web page."""
    device_id: str = entry.data[CONF_DEVICE_ID]
    model = model_of(entry.data)
    info = DeviceInfo(
        identifiers={(DOMAIN, f"smartmac_{device_id}")},
        manufacturer=MANUFACTURER_SMARTMAC,
        name=entry.title,
        serial_number=device_id,
        configuration_url=f"http://{coordinator.link.client.host}/",
    )
    if model is not SmartMacModel.UNKNOWN:
        info["model"] = model.value
    return info


class SmartMacEntity(MeterLinkEntity[SmartMacCoordinator]):
    """An entity of the device; unavailable whenever the coordinator has no current reading."""

    def __init__(
        self,
        coordinator: SmartMacCoordinator,
        description: EntityDescription,
        device_info: DeviceInfo,
    ) -> None:
        """Attach the entity to the device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"smartmac_{coordinator.device_id}_{description.key}"
        self._attr_device_info = device_info

    @property
    def available(self) -> bool:
        """Available while the last poll (or relay command) succeeded."""
        return super().available and self.coordinator.data is not None

    @property
    def reading(self) -> SmartMacReading:
        """The newest reading (only while available)."""
        return self.coordinator.data


class SmartMacSensor(SmartMacEntity, SensorEntity):
    """One value of the device's reading, in the table's unit."""

    entity_description: SmartMacSensorEntityDescription

    def _shown_value(self) -> object:
        """The value derived from the newest reading."""
        self._attr_native_value = self.entity_description.value_fn(self.reading)
        return self._attr_native_value


class SmartMacRelaySwitch(SmartMacEntity, SwitchEntity):
    """The load relay; its state is what the device reports after a command, never assumed."""

    entity_description: SmartMacSwitchEntityDescription

    def _shown_value(self) -> object:
        """On or off under the polarity the user chose; unknown for an unrecognised `pout`."""
        polarity = self.coordinator.options.relay_polarity
        self._attr_is_on = self.entity_description.is_on_fn(self.reading, polarity)
        return self._attr_is_on

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch the load on; waits for the device's request budget when it must."""
        await self.coordinator.async_set_relay(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch the load off; waits for the device's request budget when it must."""
        await self.coordinator.async_set_relay(False)


def _async_add_per_key[DescriptionT: EntityDescription](
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions_of: Callable[[SmartMacCoordinator, SmartMacReading], Iterable[DescriptionT]],
    entity_class: Callable[[SmartMacCoordinator, DescriptionT, DeviceInfo], Entity],
) -> None:
    """Add an entity for every description the reading yields, now and whenever a key appears."""
    coordinator = smartmac_runtime(entry).coordinator
    device_info = smartmac_device_info(entry, coordinator)
    wanted: dict[str, DescriptionT] = {}

    def keys() -> dict[str, None]:
        if coordinator.data is not None and coordinator.last_update_success:
            for description in descriptions_of(coordinator, coordinator.data):
                wanted.setdefault(description.key, description)
        return dict.fromkeys(wanted)

    async_add_new_entities(
        entry,
        coordinator,
        async_add_entities,
        keys,
        lambda key: [entity_class(coordinator, wanted[key], device_info)],
    )


@callback
def async_add_smartmac_sensors(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """The sensor platform's setup for a smart-MAC entry."""
    _async_add_per_key(
        entry,
        async_add_entities,
        lambda coordinator, reading: sensor_descriptions(
            reading, coordinator.options.pulse_totals()
        ),
        SmartMacSensor,
    )


@callback
def async_add_smartmac_switches(
    entry: MeterLinkConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """The switch platform's setup for a smart-MAC entry."""
    _async_add_per_key(
        entry,
        async_add_entities,
        lambda _coordinator, reading: switch_descriptions(reading),
        SmartMacRelaySwitch,
    )
