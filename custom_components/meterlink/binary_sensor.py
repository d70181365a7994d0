"""Binary sensors of EKM meters: the state of the pulse inputs."""

from __future__ import annotations

from functools import partial
from typing import Final

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONNECTION_EKM_PUSH, CONNECTION_EKM_RS485, CONNECTION_PUSH3
from .descriptions.ekm import BINARY_SENSORS, EkmBinarySensorEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities
from .push_entity import async_add_push_binary_sensors
from .runtime import MeterLinkConfigEntry, PlatformSetup, setup_platform

PARALLEL_UPDATES = 0  # read-only: the coordinator does all reading


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of every meter on the bus."""
    setup_platform(SETUPS, entry, async_add_entities)


class MeterLinkBinarySensor(MeterLinkEntity, BinarySensorEntity):
    """An on/off state of a meter reading (on = input pulled low)."""

    entity_description: EkmBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """The state from the latest reading."""
        return self.entity_description.value_fn(self.reading)


# Connection type -> how it adds this platform's entities.
SETUPS: Final[dict[str, PlatformSetup]] = {
    CONNECTION_EKM_RS485: partial(
        async_add_meter_entities, entity_class=MeterLinkBinarySensor, descriptions=BINARY_SENSORS
    ),
    CONNECTION_EKM_PUSH: partial(
        async_add_push_binary_sensors, meter_entity_class=MeterLinkBinarySensor
    ),
    CONNECTION_PUSH3: partial(
        async_add_push_binary_sensors, meter_entity_class=MeterLinkBinarySensor
    ),
}
