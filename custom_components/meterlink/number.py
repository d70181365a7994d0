"""Numbers of EKM meters: the pulse-input ratios of v4 meters."""

from __future__ import annotations

from homeassistant.components.number import NumberEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MeterLinkConfigEntry
from .descriptions.ekm import NUMBERS, EkmNumberEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numeric settings of every meter on the bus."""
    async_add_meter_entities(entry, async_add_entities, MeterLinkNumber, NUMBERS)


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
