"""Entities of EKM meters, whichever transport reads them (RS-485, EKM Push cloud, Push3).

Each class derives its state from the EKM tables (`ekm.descriptions`) over an `EkmCoordinator`,
so a meter has the same entities, units and names on every transport. The RS-485 bus adds a
meter's entities per subentry (removing the meter removes them); the Push families build the
same classes with `meter_entities` for the meters their gateways list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Final, Protocol

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.button import ButtonEntity
from homeassistant.components.number import NumberEntity
from homeassistant.components.select import SelectEntity
from homeassistant.components.sensor import SensorEntity
from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..entity import MeterLinkEntity, async_add_new_entities
from ..meters.ekm import Command, EkmReading, MeterVersion
from ..runtime import MeterLinkConfigEntry, PlatformSetup
from .bus import MeterConfig, ekm_bus_runtime
from .coordinator import EkmCoordinator, MeterIdentity
from .descriptions import (
    BINARY_SENSORS,
    BUTTONS,
    NUMBERS,
    SELECTS,
    SENSORS,
    SWITCHES,
    EkmBinarySensorEntityDescription,
    EkmButtonEntityDescription,
    EkmNumberEntityDescription,
    EkmSelectEntityDescription,
    EkmSensorEntityDescription,
    EkmSwitchEntityDescription,
)


class GatedDescription(Protocol):
    """An entity description that knows which meter versions have the entity."""

    @property
    def exists_fn(self) -> Callable[[MeterVersion], bool]:
        """Whether a meter of this version has the entity."""
        ...


class MeterEntityClass[DescriptionT: GatedDescription](Protocol):
    """A platform's entity class: built from the coordinator, a meter and one description."""

    def __call__(
        self,
        coordinator: EkmCoordinator[Any],
        meter: MeterIdentity,
        description: DescriptionT,
        /,
    ) -> Entity:
        """Create the entity."""
        ...


class EkmMeterEntity(MeterLinkEntity[EkmCoordinator[Any]]):
    """An entity of one meter; unavailable whenever that meter's reading is not current."""

    def __init__(
        self,
        coordinator: EkmCoordinator[Any],
        meter: MeterIdentity,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its meter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.address = meter.address
        self.version: MeterVersion = meter.version
        self._attr_unique_id = coordinator.entity_unique_id(meter.address, description.key)
        self._attr_device_info = coordinator.device_info(meter)

    @property
    def available(self) -> bool:
        """Available when the last poll or write read this meter."""
        return super().available and self.coordinator.is_available(self.address)

    @property
    def reading(self) -> EkmReading:
        """The latest published reading of the meter (only while available)."""
        reading = self.coordinator.latest(self.address)
        assert reading is not None  # state is only derived while available
        return reading

    def _write_token(self) -> object | None:
        """The coordinator's word on whether this meter's reading changed (None: look)."""
        return self.coordinator.update_token(self.address)

    async def async_execute(self, command: Command) -> None:
        """Send a command; the confirmed state arrives through the coordinator."""
        await self.coordinator.async_execute(self.address, command)


class EkmSensor(EkmMeterEntity, SensorEntity):
    """One value of a meter reading."""

    entity_description: EkmSensorEntityDescription

    def _shown_value(self) -> object:
        """The value as the table derives it from the latest reading."""
        self._attr_native_value = self.entity_description.value_fn(self.reading)
        return self._attr_native_value


class EkmBinarySensor(EkmMeterEntity, BinarySensorEntity):
    """An on/off state of a meter reading (on = input pulled low)."""

    entity_description: EkmBinarySensorEntityDescription

    def _shown_value(self) -> object:
        """The state from the latest reading."""
        self._attr_is_on = self.entity_description.value_fn(self.reading)
        return self._attr_is_on


class EkmSwitch(EkmMeterEntity, SwitchEntity):
    """A relay; its state is what the meter reports after the change, never assumed."""

    entity_description: EkmSwitchEntityDescription

    def _shown_value(self) -> object:
        """Whether the relay is closed, from the meter's State_Out."""
        self._attr_is_on = self.entity_description.is_on_fn(self.reading)
        return self._attr_is_on

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay (until told otherwise)."""
        await self.async_execute(self.entity_description.command_fn(True))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay (until told otherwise)."""
        await self.async_execute(self.entity_description.command_fn(False))


class EkmButton(EkmMeterEntity, ButtonEntity):
    """A command sent to the meter with its password."""

    entity_description: EkmButtonEntityDescription

    def _shown_value(self) -> object:
        """Nothing: a reading changes only the button's availability."""
        return None

    async def async_press(self) -> None:
        """Send the command; its effect shows in the reading that follows."""
        await self.async_execute(self.entity_description.command_fn())


class EkmNumber(EkmMeterEntity, NumberEntity):
    """A numeric meter setting; shows the value the meter reports."""

    entity_description: EkmNumberEntityDescription

    def _shown_value(self) -> object:
        """The setting as last read from the meter."""
        self._attr_native_value = self.entity_description.value_fn(self.reading)
        return self._attr_native_value

    async def async_set_native_value(self, value: float) -> None:
        """Write the setting (whole numbers only; the range is checked by Home Assistant)."""
        await self.async_execute(self.entity_description.command_fn(round(value)))


class EkmSelect(EkmMeterEntity, SelectEntity):
    """A meter setting; shows the value the meter reports, written with its password."""

    entity_description: EkmSelectEntityDescription

    def _shown_value(self) -> object:
        """The setting as last read from the meter."""
        self._attr_current_option = self.entity_description.current_fn(self.reading)
        return self._attr_current_option

    async def async_select_option(self, option: str) -> None:
        """Write the setting; the new value shows once the meter reports it."""
        await self.async_execute(self.entity_description.command_fn(option))


def meter_entities[DescriptionT: GatedDescription](
    coordinator: EkmCoordinator[Any],
    meter: MeterIdentity,
    entity_class: MeterEntityClass[DescriptionT],
    descriptions: Iterable[DescriptionT],
) -> list[Entity]:
    """A meter's entities of one table: only those its version has (a v3 meter has no relays)."""
    return [
        entity_class(coordinator, meter, description)
        for description in descriptions
        if description.exists_fn(meter.version)
    ]


@callback
def async_add_bus_entities[DescriptionT: GatedDescription](
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    entity_class: MeterEntityClass[DescriptionT],
    descriptions: Iterable[DescriptionT],
) -> None:
    """Add a platform's entities for every meter on the bus, now and whenever one is added.

    Each meter's entities belong to its subentry, so removing the meter removes them.
    """
    descriptions = tuple(descriptions)
    coordinator = ekm_bus_runtime(entry).coordinator

    def by_subentry() -> dict[str, MeterConfig]:
        return {meter.subentry_id: meter for meter in coordinator.meters.values()}

    async_add_new_entities(
        entry,
        coordinator,
        async_add_entities,
        lambda: dict.fromkeys(by_subentry()),
        lambda subentry_id: meter_entities(
            coordinator, by_subentry()[subentry_id], entity_class, descriptions
        ),
        subentry_of=lambda subentry_id: subentry_id,
        forget_missing=True,
    )


# The RS-485 connection's platforms.
BUS_PLATFORMS: Final[dict[Platform, PlatformSetup]] = {
    Platform.BINARY_SENSOR: partial(
        async_add_bus_entities, entity_class=EkmBinarySensor, descriptions=BINARY_SENSORS
    ),
    Platform.BUTTON: partial(async_add_bus_entities, entity_class=EkmButton, descriptions=BUTTONS),
    Platform.NUMBER: partial(async_add_bus_entities, entity_class=EkmNumber, descriptions=NUMBERS),
    Platform.SELECT: partial(async_add_bus_entities, entity_class=EkmSelect, descriptions=SELECTS),
    Platform.SENSOR: partial(async_add_bus_entities, entity_class=EkmSensor, descriptions=SENSORS),
    Platform.SWITCH: partial(async_add_bus_entities, entity_class=EkmSwitch, descriptions=SWITCHES),
}
