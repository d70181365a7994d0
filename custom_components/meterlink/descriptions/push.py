"""Entities only EKM Push and Push3 devices have: when they were last read, and whether they are."""

from __future__ import annotations

from typing import Final

from homeassistant.components.binary_sensor import BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.sensor import SensorDeviceClass, SensorEntityDescription
from homeassistant.const import EntityCategory

LAST_READING: Final = SensorEntityDescription(
    key="last_reading",
    translation_key="last_reading",
    device_class=SensorDeviceClass.TIMESTAMP,
    entity_category=EntityCategory.DIAGNOSTIC,
    # Changes with every read of every meter (state writes, recorder rows), and Home Assistant
    # caps an entry at 10000 enabled entities: a key with 1000 meters needs the room.
    entity_registry_enabled_default=False,
)
REPORTING: Final = BinarySensorEntityDescription(
    key="reporting",
    translation_key="reporting",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
