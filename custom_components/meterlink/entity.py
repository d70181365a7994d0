"""What every MeterLink entity shares, whichever family it belongs to.

`MeterLinkEntity` is the base: a name from the translation key, a device, and one state-write
dedupe. A family says what its state depends on (`_write_token`); when that and the poll's
success are what was last written, no state is written, so a poll that brings nothing new writes
nothing even for a thousand meters. `async_add_new_entities` is the one "add entities as keys
appear" loop: meters, ioStacks, smart-MAC keys and relays all appear after setup, when the data
first shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .runtime import MeterLinkConfigEntry


class MeterLinkEntity[CoordinatorT: DataUpdateCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """An entity named by its translation key that writes state only when it changed."""

    _attr_has_entity_name = True
    _written: tuple[object, bool] | None = None

    def _write_token(self) -> object | None:
        """What the state depends on besides the poll's success (None: always write)."""
        return None

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state, unless neither the token nor the poll's success changed."""
        token = self._write_token()
        if token is not None:
            written = (token, self.coordinator.last_update_success)
            if written == self._written:
                return
            self._written = written
        super()._handle_coordinator_update()


@callback
def async_add_new_entities[KeyT: Hashable](
    entry: MeterLinkConfigEntry,
    coordinator: DataUpdateCoordinator[Any],
    async_add_entities: AddConfigEntryEntitiesCallback,
    keys_fn: Callable[[], Mapping[KeyT, Hashable] | None],
    factory: Callable[[KeyT], Iterable[Entity]],
    *,
    subentry_of: Callable[[KeyT], str] | None = None,
    forget_missing: bool = False,
) -> None:
    """Add the entities of every key the data has, now and whenever a key (re)appears.

    `keys_fn` maps each current key to its generation: a key whose generation changed (a device
    deleted by the user that came back) gets its entities again; None means the data says
    nothing new (a failed refresh), so nothing is added or forgotten. With `forget_missing`, a key
    that left is forgotten, so it gets entities again when it returns (a meter re-added to a
    bus). With `subentry_of`, each key's entities belong to that subentry.
    """
    added: dict[KeyT, Hashable] = {}

    @callback
    def _add_new() -> None:
        if (current := keys_fn()) is None:
            return
        new: list[Entity] = []
        for key, generation in current.items():
            if key in added and added[key] == generation:
                continue
            added[key] = generation
            if subentry_of is None:
                new.extend(factory(key))
            else:
                async_add_entities(factory(key), config_subentry_id=subentry_of(key))
        if new:
            async_add_entities(new)
        if forget_missing:
            for key in set(added) - set(current):
                del added[key]

    _add_new()
    entry.async_on_unload(coordinator.async_add_listener(_add_new))
