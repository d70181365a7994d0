"""Buttons of EKM meters: one-shot commands (reset max demand, set the clock, zero kWh)."""

from __future__ import annotations

from functools import partial
from typing import Final

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONNECTION_EKM_RS485
from .descriptions.ekm import BUTTONS, EkmButtonEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities
from .runtime import MeterLinkConfigEntry, PlatformSetup, setup_platform

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the command buttons of every meter on the bus."""
    setup_platform(SETUPS, entry, async_add_entities)


class MeterLinkButton(MeterLinkEntity, ButtonEntity):
    """A command sent to the meter with its password."""

    entity_description: EkmButtonEntityDescription

    async def async_press(self) -> None:
        """Send the command; its effect shows in the reading that follows."""
        await self.async_execute(self.entity_description.command_fn())


# Connection type -> how it adds this platform's entities.
SETUPS: Final[dict[str, PlatformSetup]] = {
    CONNECTION_EKM_RS485: partial(
        async_add_meter_entities, entity_class=MeterLinkButton, descriptions=BUTTONS
    ),
}
