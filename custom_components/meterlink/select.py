"""Selects of EKM meters: settings with a fixed set of values (CT ratio, demand period...)."""

from __future__ import annotations

from functools import partial
from typing import Final

from homeassistant.components.select import SelectEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONNECTION_EKM_RS485
from .descriptions.ekm import SELECTS, EkmSelectEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities
from .runtime import MeterLinkConfigEntry, PlatformSetup, setup_platform

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the setting selects of every meter on the bus."""
    setup_platform(SETUPS, entry, async_add_entities)


class MeterLinkSelect(MeterLinkEntity, SelectEntity):
    """A meter setting; shows the value the meter reports, written with its password."""

    entity_description: EkmSelectEntityDescription

    @property
    def current_option(self) -> str | None:
        """The setting as last read from the meter."""
        return self.entity_description.current_fn(self.reading)

    async def async_select_option(self, option: str) -> None:
        """Write the setting; the new value shows once the meter reports it."""
        await self.async_execute(self.entity_description.command_fn(option))


# Connection type -> how it adds this platform's entities.
SETUPS: Final[dict[str, PlatformSetup]] = {
    CONNECTION_EKM_RS485: partial(
        async_add_meter_entities, entity_class=MeterLinkSelect, descriptions=SELECTS
    ),
}
