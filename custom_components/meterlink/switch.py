"""Switches: relays of v4 EKM meters on a bus, the load relay of smart-MAC devices.

EKM Push relay, ioStack output and trigger switches live in push_switch.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONNECTION_EKM_PUSH, CONNECTION_EKM_RS485, CONNECTION_SMARTMAC
from .descriptions.ekm import SWITCHES, EkmSwitchEntityDescription
from .entity import MeterLinkEntity, async_add_meter_entities
from .push_switch import async_setup_push_switches
from .runtime import MeterLinkConfigEntry, PlatformSetup, setup_platform
from .smartmac_entity import async_add_smartmac_switches

PARALLEL_UPDATES = 1  # one write at a time: RS-485 relays share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the relay switches of every meter on the bus."""
    setup_platform(SETUPS, entry, async_add_entities)


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


# Connection type -> how it adds this platform's entities.
SETUPS: Final[dict[str, PlatformSetup]] = {
    CONNECTION_EKM_RS485: partial(
        async_add_meter_entities, entity_class=MeterLinkSwitch, descriptions=SWITCHES
    ),
    CONNECTION_SMARTMAC: async_add_smartmac_switches,
    CONNECTION_EKM_PUSH: async_setup_push_switches,
}
