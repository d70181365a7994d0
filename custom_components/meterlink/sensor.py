"""Sensors of EKM meters: energy, power, voltage, current and the meter's own clock."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Final

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import CONNECTION_EKM_PUSH, CONNECTION_EKM_RS485, CONNECTION_PUSH3
from .descriptions.ekm import SENSORS, EkmSensorEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities
from .push_entity import async_add_push_sensors
from .runtime import MeterLinkConfigEntry, PlatformSetup, setup_platform

PARALLEL_UPDATES = 0  # read-only: the coordinator does all reading


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every meter on the bus."""
    setup_platform(SETUPS, entry, async_add_entities)


class MeterLinkSensor(MeterLinkEntity, SensorEntity):
    """One value of a meter reading."""

    entity_description: EkmSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """The value as the table derives it from the latest reading."""
        return self.entity_description.value_fn(self.reading)


# Connection type -> how it adds this platform's entities.
SETUPS: Final[dict[str, PlatformSetup]] = {
    CONNECTION_EKM_RS485: partial(
        async_add_meter_entities, entity_class=MeterLinkSensor, descriptions=SENSORS
    ),
    CONNECTION_EKM_PUSH: partial(async_add_push_sensors, meter_entity_class=MeterLinkSensor),
    CONNECTION_PUSH3: partial(async_add_push_sensors, meter_entity_class=MeterLinkSensor),
}
