"""Binary sensors of EKM meters: the state of the pulse inputs."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MeterLinkConfigEntry
from .descriptions.ekm import BINARY_SENSORS, EkmBinarySensorEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities

PARALLEL_UPDATES = 0  # read-only: the coordinator does all reading


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of every meter on the bus."""
    async_add_meter_entities(entry, async_add_entities, MeterLinkBinarySensor, BINARY_SENSORS)


class MeterLinkBinarySensor(MeterLinkEntity, BinarySensorEntity):
    """An on/off state of a meter reading (on = input pulled low)."""

    entity_description: EkmBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """The state from the latest reading."""
        return self.entity_description.value_fn(self.reading)
