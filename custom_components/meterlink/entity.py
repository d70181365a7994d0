"""What every MeterLink entity shares, whichever family it belongs to.

`MeterLinkEntity` is the base: a name from the translation key, a device, and one state-write
dedupe in two steps. A family may say what its entities' data depends on (`_write_token`, e.g.
the meter's reading object); when that and the poll's success are what was last seen, nothing is
looked at, so a poll that brings nothing new costs almost nothing even for a thousand meters.
Otherwise the entity computes what it would publish, once (`_shown_value` sets its `_attr_`
values), and writes state only when that or its availability changed: a meter whose reading
moved rewrites only the entities whose own value moved. `async_add_new_entities` is the one "add
entities as keys appear" loop: meters, ioStacks, smart-MAC keys and relays all appear after
setup, when the data first shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, ClassVar, Final

from homeassistant.core import callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .runtime import MeterLinkConfigEntry

_UNAVAILABLE: Final = object()
_NOTHING_WRITTEN: Final = object()


class MeterLinkEntity[CoordinatorT: DataUpdateCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """An entity named by its translation key that writes state only when it changed."""

    _attr_has_entity_name = True
    _seen: object = None
    _published: object = _NOTHING_WRITTEN
    # Whether the class says what it shows (`_shown_value`); one that does not writes every time.
    _tracked: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Note whether the class derives what it shows from the data alone."""
        super().__init_subclass__(**kwargs)
        cls._tracked = cls._shown_value is not MeterLinkEntity._shown_value

    def _write_token(self) -> object | None:
        """What the entity's data depends on besides the poll's success (None: look every time)."""
        return None

    def _shown_value(self) -> object:
        """Set the entity's `_attr_` values from the data; return them (called while available).

        Whatever the state or the attributes show that the data decides must be in the answer
        (`last_reset` too), since an equal answer means no state write. A class that does not
        override it writes state on every update (its state depends on more than the data).
        """
        return None

    def _publication(self) -> object:
        """What the entity would publish now: `_shown_value`, or that it is unavailable."""
        return self._shown_value() if self.available else _UNAVAILABLE

    async def async_added_to_hass(self) -> None:
        """Compute the values the first state write shows."""
        await super().async_added_to_hass()
        if self._tracked:
            self._published = self._publication()

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state, unless what the entity publishes is what it last wrote."""
        token = self._write_token()
        if token is not None:
            seen = (token, self.coordinator.last_update_success)
            if seen == self._seen:
                return
            self._seen = seen
        if self._tracked:
            published = self._publication()
            if published == self._published:
                return
            self._published = published
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
