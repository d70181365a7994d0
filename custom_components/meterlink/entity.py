"""Base entity of a meter (any transport), and how platforms add a bus's entities per meter."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import EkmBusCoordinator, MeterConfig, ekm_bus_runtime
from .meter_coordinator import MeterCoordinator, MeterIdentity
from .meters.ekm import Command, EkmReading, MeterVersion
from .runtime import MeterLinkConfigEntry


class GatedDescription(Protocol):
    """An entity description that knows which meter versions have the entity."""

    @property
    def exists_fn(self) -> Callable[[MeterVersion], bool]:
        """Whether a meter of this version has the entity."""
        ...


class MeterEntityClass[DescriptionT: GatedDescription](Protocol):
    """A platform's entity class: built from the coordinator, a meter and one description."""

    def __call__(
        self,
        coordinator: MeterCoordinator[Any],
        meter: MeterIdentity,
        description: DescriptionT,
        /,
    ) -> Entity:
        """Create the entity."""
        ...


@callback
def async_add_meter_entities[DescriptionT: GatedDescription](
    entry: MeterLinkConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    entity_class: MeterEntityClass[DescriptionT],
    descriptions: Iterable[DescriptionT],
) -> None:
    """Add a platform's entities for every meter, now and whenever a meter is added.

    Only descriptions whose `exists_fn` accepts the meter's version are used (a v3 meter gets
    no relays). Each meter's entities belong to its subentry, so removing the meter removes them.
    """
    descriptions = tuple(descriptions)

    def factory(coordinator: EkmBusCoordinator, meter: MeterConfig) -> list[Entity]:
        return [
            entity_class(coordinator, meter, description)
            for description in descriptions
            if description.exists_fn(meter.version)
        ]

    coordinator = ekm_bus_runtime(entry).coordinator
    added: set[str] = set()

    @callback
    def _add_new_meters() -> None:
        meters = coordinator.meters.values()
        for meter in meters:
            if meter.subentry_id in added:
                continue
            added.add(meter.subentry_id)
            async_add_entities(factory(coordinator, meter), config_subentry_id=meter.subentry_id)
        added.intersection_update(meter.subentry_id for meter in meters)

    _add_new_meters()
    entry.async_on_unload(coordinator.async_add_listener(_add_new_meters))


class MeterLinkEntity(CoordinatorEntity[MeterCoordinator[Any]]):
    """An entity of one meter; unavailable whenever that meter's reading is not current."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: MeterCoordinator[Any],
        meter: MeterIdentity,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its meter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.address = meter.address
        self.version: MeterVersion = meter.version
        self._attr_unique_id = coordinator.entity_unique_id(meter.address, description.key)
        self._attr_device_info = coordinator.device_info(meter)
        self._written: tuple[object, bool] | None = None

    @property
    def available(self) -> bool:
        """Available when the last poll or write read this meter."""
        return super().available and self.coordinator.is_available(self.address)

    @property
    def reading(self) -> EkmReading:
        """The latest published reading of the meter (only while available)."""
        reading = self.coordinator.latest(self.address)
        assert reading is not None  # state is only derived while available
        return reading

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state, unless the coordinator says this meter's reading did not change."""
        token = self.coordinator.update_token(self.address)
        if token is not None:
            written = (token, self.coordinator.last_update_success)
            if written == self._written:
                return
            self._written = written
        super()._handle_coordinator_update()

    async def async_execute(self, command: Command) -> None:
        """Send a command; the confirmed state arrives through the coordinator."""
        await self.coordinator.async_execute(self.address, command)
