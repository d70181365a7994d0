"""Every connection type MeterLink offers, in the order the config flow's menu lists them.

This is the one list a new family is added to: its `Connection` (setup, platforms, flows,
removal); its flow mixin also joins `config_flow.MeterLinkConfigFlow`'s bases. Setup, unload,
every platform and the config flow dispatch through it, so no shared module names a family.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .egauge import EGAUGE
from .ekm import EKM_RS485
from .push import EKM_PUSH, EKM_PUSH3
from .runtime import Connection, MeterLinkConfigEntry, connection_of
from .smartmac import SMARTMAC

CONNECTIONS: Final[dict[str, Connection]] = {
    connection.connection_id: connection
    for connection in (EKM_RS485, EKM_PUSH, EKM_PUSH3, SMARTMAC, EGAUGE)
}


def connection_for(entry: MeterLinkConfigEntry) -> Connection:
    """The connection type of the entry."""
    return CONNECTIONS[connection_of(entry)]


def platform_entry_setup(
    platform: Platform,
) -> Callable[
    [HomeAssistant, MeterLinkConfigEntry, AddConfigEntryEntitiesCallback], Coroutine[Any, Any, None]
]:
    """A platform module's `async_setup_entry`: the entry's connection type adds the entities."""

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        setup_platform(platform, entry, async_add_entities)

    return async_setup_entry


def setup_platform(
    platform: Platform,
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entry's entities of `platform`, if its connection type has any there."""
    if (setup := connection_for(entry).platforms.get(platform)) is not None:
        setup(entry, async_add_entities)
