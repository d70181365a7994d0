"""Numbers of EKM meters: the pulse-input ratios of v4 meters."""

from __future__ import annotations

from functools import partial
from typing import Final

from homeassistant.components.number import NumberEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONNECTION_EKM_RS485
from .descriptions.ekm import NUMBERS, EkmNumberEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities
from .runtime import MeterLinkConfigEntry, PlatformSetup, setup_platform

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numeric settings of every meter on the bus."""
    setup_platform(SETUPS, entry, async_add_entities)


class MeterLinkNumber(MeterLinkEntity, NumberEntity):
    """A numeric meter setting; shows the value the meter reports."""

    entity_description: EkmNumberEntityDescription

    @property
    def native_value(self) -> float | None:
        """The setting as last read from the meter."""
        return self.entity_description.value_fn(self.reading)

    async def async_set_native_value(self, value: float) -> None:
        """Write the setting (whole numbers only; the range is checked by Home Assistant)."""
        await self.async_execute(self.entity_description.command_fn(round(value)))


# Connection type -> how it adds this platform's entities.
SETUPS: Final[dict[str, PlatformSetup]] = {
    CONNECTION_EKM_RS485: partial(
        async_add_meter_entities, entity_class=MeterLinkNumber, descriptions=NUMBERS
    ),
}
