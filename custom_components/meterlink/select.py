"""Selects: meter settings with a fixed set of values (CT ratio, demand period...).

The entity classes live with their family (`ekm.entities`, `push.entities`, ...); this module
only asks the entry's connection type how it adds them.
"""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .connections import setup_platform
from .runtime import MeterLinkConfigEntry

PARALLEL_UPDATES = 1  # one write at a time: they share the bus with every poll


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's entities of this platform."""
    setup_platform(Platform.SELECT, entry, async_add_entities)
