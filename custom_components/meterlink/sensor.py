"""Sensors of EKM meters: energy, power, voltage, current and the meter's own clock."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import MeterLinkConfigEntry
from .descriptions.ekm import SENSORS, EkmSensorEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities

PARALLEL_UPDATES = 0  # read-only: the coordinator does all reading


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of every meter on the bus."""
    async_add_meter_entities(entry, async_add_entities, MeterLinkSensor, SENSORS)


class MeterLinkSensor(MeterLinkEntity, SensorEntity):
    """One value of a meter reading."""

    entity_description: EkmSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """The value as the table derives it from the latest reading."""
        return self.entity_description.value_fn(self.reading)
