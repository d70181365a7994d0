"""Binary sensors of every connection type: pulse inputs, ioStack states, reporting.

The entity classes live with their family (`ekm.entities`, `push.entities`, ...); this module
only asks the entry's connection type how it adds them.
"""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .connections import setup_platform
from .runtime import MeterLinkConfigEntry

PARALLEL_UPDATES = 0  # read-only: the coordinator does all reading


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's entities of this platform."""
    setup_platform(Platform.BINARY_SENSOR, entry, async_add_entities)
