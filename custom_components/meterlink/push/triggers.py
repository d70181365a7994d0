"""The triggers of an entry's Push3 gateways, kept in step with the gateways themselves.

Triggers can be made, changed and removed in the EKM portal or by another program at any time,
so the list is fetched again every few minutes (one Trigger API GET per gateway), and at once
after Home Assistant changes one itself. Switch entities follow this coordinator: a trigger
that appears gets an entity, one that disappears loses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from ..const import LOGGER
from ..errors import ErrorTable, Rule, translate_errors
from ..meters.errors import MeterError
from ..meters.push import Trigger, TriggerClient
from ..runtime import MeterLinkConfigEntry

LIST_ERRORS: Final[ErrorTable] = (
    Rule(error=MeterError, key="device_api_triggers_failed", raises=UpdateFailed),
)

TRIGGER_REFRESH: Final = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class GatewayTrigger:
    """One trigger and the gateway it lives on."""

    gateway: str
    trigger: Trigger

    @property
    def uuid(self) -> str:
        """The trigger's uuid (every trigger the API lists has one)."""
        return self.trigger.trigger_uuid or ""


class TriggerCoordinator(DataUpdateCoordinator[dict[str, GatewayTrigger]]):
    """Every trigger of the entry's gateways, by uuid."""

    config_entry: MeterLinkConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        client: TriggerClient,
        gateways: Callable[[], list[str]],
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{entry.title} triggers",
            update_interval=TRIGGER_REFRESH,
        )
        self._client = client
        self._gateways = gateways

    async def _async_update_data(self) -> dict[str, GatewayTrigger]:
        found: dict[str, GatewayTrigger] = {}
        for gateway in self._gateways():
            with translate_errors(LIST_ERRORS, {"gateway": gateway}):
                triggers = await self._client.list(gateway)
            for trigger in triggers:
                if trigger.trigger_uuid:
                    found[trigger.trigger_uuid] = GatewayTrigger(gateway, trigger)
        return found

    def gateway_of(self, trigger_uuid: str) -> str | None:
        """The gateway a known trigger lives on."""
        known = (self.data or {}).get(trigger_uuid)
        return known.gateway if known else None

    def async_set_trigger(self, gateway: str, trigger: Trigger) -> None:
        """Publish a trigger Home Assistant just created or changed (its API answer)."""
        if trigger.trigger_uuid:
            data = dict(self.data or {})
            data[trigger.trigger_uuid] = GatewayTrigger(gateway, trigger)
            self.async_set_updated_data(data)

    def async_drop_trigger(self, trigger_uuid: str) -> None:
        """Forget a trigger Home Assistant just deleted."""
        data = dict(self.data or {})
        if data.pop(trigger_uuid, None) is not None:
            self.async_set_updated_data(data)
