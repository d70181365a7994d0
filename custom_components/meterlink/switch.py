"""Switches of EKM meters: the two output relays of v4 meters."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MeterLinkConfigEntry
from .descriptions.ekm import SWITCHES, EkmSwitchEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the relay switches of every meter on the bus."""
    async_add_meter_entities(entry, async_add_entities, MeterLinkSwitch, SWITCHES)


class MeterLinkSwitch(MeterLinkEntity, SwitchEntity):
    """A relay; its state is what the meter reports after the change, never assumed."""

    entity_description: EkmSwitchEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Whether the relay is closed, from the meter's State_Out."""
        return self.entity_description.is_on_fn(self.reading)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay (until told otherwise)."""
        await self.async_execute(self.entity_description.command_fn(True))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay (until told otherwise)."""
        await self.async_execute(self.entity_description.command_fn(False))
